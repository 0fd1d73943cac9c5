"""The data-set loaders, one per data set, in the order a batch loads them (a data set
is loaded after those it refers to). A data set not here is skipped with a warning."""

from __future__ import annotations

from callscribe.ingest.zipbatch.loaders.base import Loader
from callscribe.ingest.zipbatch.loaders.engagements import (
    ConversationsLoader,
    EngagementsLoader,
    TurnsLoader,
)
from callscribe.ingest.zipbatch.loaders.people import (
    AgentsLoader,
    CustomersLoader,
    ExternalAgentsLoader,
)
from callscribe.ingest.zipbatch.loaders.records import (
    ActivitiesLoader,
    ServicesLoader,
    TransactionsLoader,
)
from callscribe.ingest.zipbatch.loaders.reviews import QuestionsLoader, ReviewsLoader

LOADERS: dict[str, Loader] = {
    loader.data_set: loader
    for loader in (
        ExternalAgentsLoader(),
        ServicesLoader(),
        QuestionsLoader(),
        AgentsLoader(),
        CustomersLoader(),
        ConversationsLoader(),
        EngagementsLoader(),
        TurnsLoader(),
        ReviewsLoader(),
        TransactionsLoader(),
        ActivitiesLoader(),
    )
}
ORDER = list(LOADERS)  # processing order of the data sets


def get_loader(data_set: str | None) -> Loader | None:
    return LOADERS.get(data_set or "")
