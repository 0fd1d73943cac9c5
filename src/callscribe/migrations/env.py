from __future__ import annotations

from alembic import context

# Every module that declares tables, listed once, so Base.metadata holds the whole schema
# (alembic check compares it with the migrations). A new models module is added here.
from callscribe import events  # noqa: F401  (the outbox table lives in the kit)
from callscribe.accounts import models as _accounts  # noqa: F401
from callscribe.analytics import models as _analytics  # noqa: F401
from callscribe.auth import models as _auth  # noqa: F401
from callscribe.calls import models as _calls  # noqa: F401
from callscribe.calls import trackers as _trackers  # noqa: F401
from callscribe.connectors import models as _connectors  # noqa: F401
from callscribe.crm import models as _crm  # noqa: F401
from callscribe.db import Base, make_engine
from callscribe.delivery import models as _delivery  # noqa: F401
from callscribe.ingest import models as _ingest  # noqa: F401
from callscribe.ingest.zipbatch import models as _zipbatch  # noqa: F401
from callscribe.privacy import models as _privacy  # noqa: F401
from callscribe.reviews import models as _reviews  # noqa: F401
from callscribe.search import models as _search  # noqa: F401

config = context.config
if not config.get_main_option("sqlalchemy.url"):
    from callscribe.settings import get_settings

    config.set_main_option("sqlalchemy.url", get_settings().database_url)
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=_search.include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=_search.include_object,  # per-dialect search objects
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
