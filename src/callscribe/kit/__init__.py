"""Small parts every domain uses and none owns: response models read from ORM rows,
one page shape and one paginate(), one filter over engagements. No domain knowledge:
imports only db, settings and errors."""
