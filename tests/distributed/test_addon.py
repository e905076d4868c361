"""The DistributedCrawl add-on: REDIS_URL switches scheduler, dupefilter, pipelines and names; nothing otherwise."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawler.distributed import DistributedCrawl


def settings_with(**values: str) -> Settings:
    settings = get_project_settings()
    for name, value in values.items():
        settings.set(name, value, priority="cmdline")
    DistributedCrawl("51credit").update_settings(settings)
    return settings


def test_without_redis_url_only_the_worker_id_is_resolved() -> None:
    plain = get_project_settings()
    settings = settings_with(REDIS_URL="")
    assert settings.get("WORKER_ID")  # hostname-pid
    for name in ("SCHEDULER", "DUPEFILTER_CLASS", "SCHEDULER_PERSIST", "WARC_PREFIX"):
        assert settings.get(name) == plain.get(name)
    assert dict(settings.getdict("ITEM_PIPELINES")) == dict(plain.getdict("ITEM_PIPELINES"))
    assert dict(settings.getdict("EXTENSIONS")) == dict(plain.getdict("EXTENSIONS"))


def test_redis_url_switches_to_the_shared_queue_and_names_outputs_per_worker() -> None:
    settings = settings_with(REDIS_URL="redis://127.0.0.1:6379/0", WORKER_ID="box1-a", REDIS_STATE_PREFIX="proj")
    assert settings.get("SCHEDULER") == "crawler.distributed.scheduler.ReliableRedisScheduler"
    assert settings.get("DUPEFILTER_CLASS") == "scrapy_redis.dupefilter.RFPDupeFilter"
    assert settings.getbool("SCHEDULER_PERSIST") is True
    assert settings.get("SCHEDULER_QUEUE_KEY") == "proj:%(spider)s:requests"
    assert settings.get("SCHEDULER_DUPEFILTER_KEY") == "proj:%(spider)s:dupefilter"
    pipelines = settings.getdict("ITEM_PIPELINES")
    order = [pipelines[f"crawler.pipelines.{name}"] for name in (
        "dedupe.DuplicatePostPipeline", "claim.ClaimPipeline", "tsv.TsvWriterPipeline", "emitted.EmittedPipeline")]
    assert order == sorted(order)
    assert "crawler.distributed.workers.WorkersExtension" in settings.getdict("EXTENSIONS")
    assert settings.get("WARC_PREFIX") == "51credit-box1-a"
    assert settings.get("WARC_IS_PART_OF") == "51credit"
    # A chosen WARC prefix is kept.
    assert settings_with(REDIS_URL="redis://h/0", WARC_PREFIX="mine").get("WARC_PREFIX") == "mine"


def test_settings_that_cannot_work_with_redis_name_the_fix() -> None:
    with pytest.raises(ValueError, match=r"JOBDIR='/tmp/job' has no use with REDIS_URL: .* drop -s JOBDIR"):
        settings_with(REDIS_URL="redis://h/0", JOBDIR="/tmp/job")
    with pytest.raises(ValueError, match=r"REDIS_STATE_PREFIX='a%b' must be one word"):
        settings_with(REDIS_URL="redis://h/0", REDIS_STATE_PREFIX="a%b")
    with pytest.raises(ValueError, match=r"WORKER_ID='a b' cannot name files"):
        settings_with(WORKER_ID="a b")
