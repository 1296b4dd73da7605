"""Forwarding to Mixpanel and GA4, against local servers implementing both APIs: off unless
configured, batches, each destination's own progress, retries with back-off, rejections
recorded and not retried, every event once however many forwarders run."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from analytics.workers import Forwarder


async def deliveries(stack: Any, destination: str) -> dict[str, tuple[str, int, str | None]]:
    rows = await stack.rows(
        "SELECT event_id, state, attempts, error FROM deliveries WHERE destination = :d",
        d=destination,
    )
    return {str(r.event_id): (r.state, r.attempts, r.error) for r in rows}


async def drain(forwarder: Forwarder) -> int:
    """Run the forwarder until nothing is due; returns how many batches it sent."""
    batches = 0
    while await forwarder.run_once():
        batches += 1
    return batches


def by_name(stack: Any, name: str) -> Forwarder:
    return next(f for f in stack.parts.forwarders if f.destination.name == name)


async def test_forwarding_is_off_unless_configured(stack: Any) -> None:
    await stack.track(name="Feedback", anonymousId="a")
    assert stack.parts.forwarders == []
    assert await stack.rows("SELECT 1 FROM deliveries") == []


async def test_mixpanel_gets_batches_keyed_by_our_event_ids(forwarding: Any) -> None:
    stack, apis = forwarding
    user = uuid.uuid4()
    for i in range(7):
        await stack.track(user, name="Feedback", properties={"page": f"/p{i}"})
    mixpanel = by_name(stack, "mixpanel")
    assert await drain(mixpanel) == 3  # batches of at most 3 here (2,000 by default)
    assert apis.mixpanel.batches == [3, 3, 1]
    assert apis.mixpanel.encodings == [("gzip", "1")] * 3
    ids = set(await deliveries(stack, "mixpanel"))
    assert set(apis.mixpanel.imported) == ids
    record = next(iter(apis.mixpanel.imported.values()))
    assert record["event"] == "Feedback"
    assert record["properties"]["distinct_id"] == str(user)
    assert record["properties"]["time"] == int(stack.clock().timestamp() * 1000)
    assert {s for s, _, _ in (await deliveries(stack, "mixpanel")).values()} == {"sent"}
    assert await mixpanel.run_once() == 0  # a restart finds nothing left to send


async def test_mixpanel_outages_back_off_and_resume(forwarding: Any) -> None:
    stack, apis = forwarding
    await stack.track(name="Feedback", anonymousId="v-1")
    mixpanel = by_name(stack, "mixpanel")
    apis.mixpanel.faults = [(503, {}), (429, {"retry-after": "60"})]
    assert await mixpanel.run_once() == 1
    [(state, attempts, _)] = (await deliveries(stack, "mixpanel")).values()
    assert (state, attempts) == ("pending", 1)
    assert await mixpanel.run_once() == 0  # not due for 5 seconds
    stack.clock.advance(timedelta(seconds=5))
    assert await mixpanel.run_once() == 1  # 429: Mixpanel asks for a minute
    stack.clock.advance(timedelta(seconds=59))
    assert await mixpanel.run_once() == 0
    stack.clock.advance(timedelta(seconds=1))
    assert await mixpanel.run_once() == 1
    assert [s for s, _, _ in (await deliveries(stack, "mixpanel")).values()] == ["sent"]
    assert len(apis.mixpanel.imported) == 1


async def test_a_record_mixpanel_refuses_is_recorded_and_not_retried(forwarding: Any) -> None:
    stack, apis = forwarding
    await stack.track(name="Feedback", anonymousId="anonymous")  # a placeholder to Mixpanel
    await stack.track(name="Feedback", anonymousId="visitor-7")
    mixpanel = by_name(stack, "mixpanel")
    await drain(mixpanel)
    states = sorted((await deliveries(stack, "mixpanel")).values())
    assert states[0][0] == "rejected" and "distinct_id" in (states[0][2] or "")
    assert states[1][0] == "sent"
    stack.clock.advance(timedelta(hours=2))
    assert await mixpanel.run_once() == 0
    assert len(apis.mixpanel.imported) == 1


async def test_one_destination_down_does_not_hold_the_other(forwarding: Any) -> None:
    stack, apis = forwarding
    for i in range(4):
        await stack.track(name="Feedback", anonymousId=f"v{i}")
    apis.mixpanel.faults = [(500, {})] * 10
    assert await by_name(stack, "mixpanel").run_once() == 3
    await drain(by_name(stack, "ga4"))
    assert {s for s, _, _ in (await deliveries(stack, "ga4")).values()} == {"sent"}
    assert sum(len(r["events"]) for r in apis.ga4.collected) == 4
    assert {s for s, _, _ in (await deliveries(stack, "mixpanel")).values()} == {"pending"}


async def test_ga4_gets_valid_measurements_or_a_recorded_reason(forwarding: Any) -> None:
    stack, apis = forwarding
    user, listing = uuid.uuid4(), str(uuid.uuid4())
    await stack.track(user, name="Property View", listingId=listing, anonymousId="cid.1",
                      properties={"propertyType": "condo"})  # fmt: skip
    await stack.track(user, name="Tour Completion", anonymousId="cid.1",
                      properties={"satisfactionScore": 5, "followUpActions": ["offer", "call"]})  # fmt: skip
    await stack.track(
        name="Feedback", anonymousId="cid.2", properties={"answers": {"why": "x" * 150}}
    )
    await drain(by_name(stack, "ga4"))
    [first, *_] = apis.ga4.collected
    assert first["client_id"] == "cid.1" and first["user_id"] == str(user)
    sent = {e["name"]: e["params"] for r in apis.ga4.collected for e in r["events"]}
    assert sent["property_view"] == {"property_type": "condo", "listing_id": listing}
    assert sent["tour_completion"] == {"satisfaction_score": 5, "follow_up_actions": "offer,call"}
    assert "feedback" not in sent  # 150 characters: GA4 takes 100, and nothing is cut
    rejected = [e for s, _, e in (await deliveries(stack, "ga4")).values() if s == "rejected"]
    assert rejected == ["parameter 'answer_why' is 150 characters; GA4 takes 100"]
    # What was sent passes GA4's own validation; what was held back would not have.
    for request in apis.ga4.collected:
        checked = await apis.http.post("http://ga4.test/debug/mp/collect", json=request)
        assert checked.json() == {"validationMessages": []}
    bad = {"client_id": "c", "events": [{"name": "feedback", "params": {"answer_why": "x" * 150}}]}
    checked = await apis.http.post("http://ga4.test/debug/mp/collect", json=bad)
    assert [m["validationCode"] for m in checked.json()["validationMessages"]] == ["VALUE_INVALID"]


async def test_forwarders_on_many_replicas_send_each_event_once(forwarding: Any) -> None:
    stack, apis = forwarding
    for i in range(9):
        await stack.track(name="Feedback", anonymousId=f"r{i}")
    apis.mixpanel.delay = 0.05
    replicas = [Forwarder(stack.parts.analytics, by_name(stack, "mixpanel").destination)
                for _ in range(3)]  # fmt: skip
    await asyncio.gather(*(drain(r) for r in replicas))
    assert sorted(apis.mixpanel.receipts) == sorted(set(apis.mixpanel.receipts))
    assert len(apis.mixpanel.receipts) == 9
