"""The micro-batcher behind ``/recommend``: concurrent items are computed together, each
gets its own result, a lone item waits for no one, a failing item fails alone."""

from __future__ import annotations

import asyncio

import pytest

from serving.batching import MAX_TURNS, QUIET_TURNS, MicroBatcher


class Doubler:
    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.fail_on = fail_on

    def __call__(self, items):
        self.calls.append(list(items))
        if self.fail_on in items:
            raise ValueError(f"cannot double {self.fail_on}")
        return [2 * i for i in items]


def test_concurrent_items_are_computed_in_one_batch_each_with_its_own_result():
    compute, sizes = Doubler(), []

    async def main():
        batcher = MicroBatcher(compute, observe=sizes.append)
        return await asyncio.gather(*(batcher.submit(i) for i in range(10)))

    assert asyncio.run(main()) == [2 * i for i in range(10)]
    assert compute.calls == [list(range(10))]
    assert sizes == [10]


def test_a_lone_item_is_computed_without_waiting_for_another():
    compute = Doubler()

    async def main():
        batcher = MicroBatcher(compute)
        first = await batcher.submit(1)
        second = await batcher.submit(2)
        return first, second

    assert asyncio.run(main()) == (2, 4)
    assert compute.calls == [[1], [2]]


async def _arrive_after(batcher: MicroBatcher, item: int, turns: int):
    """An item that reaches the batcher ``turns`` turns of the loop late (as a request
    does after the middleware's awaits)."""
    for _ in range(turns):
        await asyncio.sleep(0)
    return await batcher.submit(item)


def test_items_arriving_over_several_turns_of_the_loop_join_one_batch():
    compute = Doubler()

    async def main():
        batcher = MicroBatcher(compute)
        # each newcomer within QUIET_TURNS of the one before
        late = [_arrive_after(batcher, i, 3 * i) for i in range(8)]
        return await asyncio.gather(*late)

    assert asyncio.run(main()) == [2 * i for i in range(8)]
    assert compute.calls == [list(range(8))]


def test_a_batch_closes_after_quiet_turns_and_latecomers_form_the_next():
    compute = Doubler()

    async def main():
        batcher = MicroBatcher(compute)
        late = [_arrive_after(batcher, 0, 0), _arrive_after(batcher, 1, QUIET_TURNS + 5)]
        return await asyncio.gather(*late)

    assert asyncio.run(main()) == [0, 2]
    assert compute.calls == [[0], [1]]


def test_a_batch_is_never_held_open_beyond_max_turns():
    """A stream of newcomers, one every turn, does not starve the first of them."""
    compute = Doubler()

    async def main():
        batcher = MicroBatcher(compute, max_batch=10_000)
        return await asyncio.gather(*(_arrive_after(batcher, i, i) for i in range(3 * MAX_TURNS)))

    asyncio.run(main())
    assert compute.calls[0][0] == 0
    assert MAX_TURNS - 1 <= len(compute.calls[0]) <= MAX_TURNS + 2
    assert sorted(sum(compute.calls, [])) == list(range(3 * MAX_TURNS))


def test_batches_are_capped_and_the_rest_follows():
    compute = Doubler()

    async def main():
        batcher = MicroBatcher(compute, max_batch=4)
        return await asyncio.gather(*(batcher.submit(i) for i in range(10)))

    assert asyncio.run(main()) == [2 * i for i in range(10)]
    assert [len(c) for c in compute.calls] == [4, 4, 2]


def test_an_item_that_fails_fails_alone():
    compute = Doubler(fail_on=3)

    async def main():
        batcher = MicroBatcher(compute)
        return await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)

    results = asyncio.run(main())
    assert [r for i, r in enumerate(results) if i != 3] == [0, 2, 4, 8]
    assert isinstance(results[3], ValueError) and "cannot double 3" in str(results[3])


def test_a_wrong_number_of_results_is_an_error_not_a_misattribution():
    """A batch of three that gives one result: no item may take another's; each is then
    computed alone and gets its own."""
    calls = []

    def first_only(items):
        calls.append(list(items))
        return [f"result of {item}" for item in items][:1]

    async def main():
        batcher = MicroBatcher(first_only)
        return await asyncio.gather(*(batcher.submit(i) for i in (7, 8, 9)))

    assert asyncio.run(main()) == ["result of 7", "result of 8", "result of 9"]
    assert calls == [[7, 8, 9], [7], [8], [9]]


def test_each_result_goes_to_its_own_item_whatever_the_arrival_order():
    """Items submitted from separate tasks in a shuffled order: each awaits its own."""
    import random

    order = list(range(20))
    random.Random(4).shuffle(order)

    async def main():
        batcher = MicroBatcher(lambda items: [f"result of {i}" for i in items])
        return await asyncio.gather(*(batcher.submit(i) for i in order))

    assert asyncio.run(main()) == [f"result of {i}" for i in order]


def test_a_cancelled_request_does_not_stop_the_others():
    compute = Doubler()

    async def main():
        batcher = MicroBatcher(compute)
        tasks = [asyncio.ensure_future(batcher.submit(i)) for i in range(3)]
        await asyncio.sleep(0)  # every item is queued
        tasks[1].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        return done

    done = asyncio.run(main())
    assert done[0] == 0 and done[2] == 4
    assert isinstance(done[1], asyncio.CancelledError)
    assert compute.calls == [[0, 2]]


@pytest.mark.parametrize("bad", [0, -1])
def test_max_batch_must_be_positive(bad):
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(Doubler(), max_batch=bad)
