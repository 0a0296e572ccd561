"""The vector store contract (KB-RET-VECTOR with its score threshold; the filters KB-META-FILTER needs), the same
for faiss, pgvector and Qdrant: every call goes through the dispatcher, so the wire types are checked
both ways as they are between the kernel and a plugin host."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import VectorHit

from .conftest import StoreUnderTest

DIM = 8


def random_vectors(count: int, dimension: int = DIM, seed: int = 7) -> list[list[float]]:
    generator = np.random.default_rng(seed)
    return generator.normal(size=(count, dimension)).round(6).tolist()  # type: ignore[no-any-return]


def records_of(vectors: list[list[float]], metadata: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return [
        {"id": f"r{i}", "vector": vector, "text": f"text {i}", "metadata": (metadata or [{}] * len(vectors))[i]}
        for i, vector in enumerate(vectors)
    ]


def cosine_ranking(query: list[float], records: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """(id, cosine similarity) of every record, best first, computed with numpy."""
    matrix = np.array([r["vector"] for r in records], dtype=np.float64)
    q = np.array(query, dtype=np.float64)
    scores = matrix @ q / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q))
    order = np.argsort(-scores)
    return [(records[i]["id"], float(scores[i])) for i in order]


def same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def meets(metadata: dict[str, Any], conditions: dict[str, Any]) -> bool:
    """The filter language, written out plainly: what every store must agree with."""
    for field, condition in conditions.items():
        present = field in metadata
        if isinstance(condition, dict):
            [(op, values)] = condition.items()
            inside = present and any(same(metadata[field], v) for v in values)
            if inside != (op == "in"):
                return False
        elif not (present and same(metadata[field], condition)):
            return False
    return True


async def filled(store: StoreUnderTest, records: list[dict[str, Any]], collection: str = "docs") -> None:
    await store.call("create_collection", collection, dimension=len(records[0]["vector"]))
    assert await store.call("upsert", collection, records=records) == len(records)


# -- collections ----------------------------------------------------------------------------------


async def test_create_collection_is_idempotent_for_the_same_dimension(store: StoreUnderTest) -> None:
    assert await store.call("create_collection", dimension=DIM) is None
    await store.call("upsert", records=records_of(random_vectors(3)))
    assert await store.call("create_collection", dimension=DIM) is None
    assert await store.call("count") == 3


async def test_create_collection_with_another_dimension_names_both(store: StoreUnderTest) -> None:
    await store.call("create_collection", dimension=DIM)
    with pytest.raises(PluginInvalidArgument) as caught:
        await store.call("create_collection", dimension=DIM + 4)
    assert f"dimension {DIM}" in caught.value.message and f"dimension {DIM + 4}" in caught.value.message
    assert caught.value.details["collection"] == "docs"


async def test_collections_are_separate(store: StoreUnderTest) -> None:
    await filled(store, records_of(random_vectors(4)), "first")
    await filled(store, records_of(random_vectors(2, dimension=3)), "second")
    assert (await store.call("count", "first"), await store.call("count", "second")) == (4, 2)
    await store.call("drop_collection", "first")
    assert (await store.call("count", "first"), await store.call("count", "second")) == (0, 2)


async def test_collection_names_are_case_sensitive_and_may_be_long(store: StoreUnderTest) -> None:
    """Up to 128 characters (longer than PostgreSQL's 63-byte identifiers), and "Docs" is not "docs"."""
    long_a, long_b = "a" * 127 + "1", "a" * 127 + "2"
    names = ["docs", "Docs", long_a, long_b]
    for size, name in enumerate(names, start=1):
        await filled(store, records_of(random_vectors(size)), name)
    assert [await store.call("count", name) for name in names] == [1, 2, 3, 4]
    await store.call("drop_collection", long_a)
    assert [await store.call("count", name) for name in names] == [1, 2, 0, 4]


async def test_a_collection_name_outside_the_pattern_is_refused(store: StoreUnderTest) -> None:
    for name in ("", "a/b", "a.b", '"; DROP TABLE x; --', "-leading", "x" * 129):
        with pytest.raises(PluginInvalidArgument, match=r"first at collection: String should match pattern"):
            await store.call("create_collection", name, dimension=2)


async def test_drop_collection_removes_everything_and_may_be_repeated(store: StoreUnderTest) -> None:
    await filled(store, records_of(random_vectors(5)))
    assert await store.call("drop_collection") is None
    assert await store.call("count") == 0
    assert await store.call("search", vector=random_vectors(1)[0]) == []
    assert await store.call("drop_collection") is None
    # Created again, with another dimension: nothing of the old collection is left.
    await store.call("create_collection", dimension=3)
    assert await store.call("count") == 0


async def test_a_missing_collection_reads_as_empty(store: StoreUnderTest) -> None:
    """A dataset with no documents yet has no collection: reading it is normal."""
    assert await store.call("search", "nothing", vector=[1.0, 0.0]) == []
    assert await store.call("count", "nothing") == 0
    assert await store.call("delete", "nothing", ids=["a"]) == 0
    assert await store.call("delete_where", "nothing", filter={"document_id": "d"}) == 0
    assert await store.call("drop_collection", "nothing") is None


async def test_upsert_into_a_missing_collection_is_not_found(store: StoreUnderTest) -> None:
    with pytest.raises(PluginNotFound, match="'nothing' does not exist"):
        await store.call("upsert", "nothing", records=records_of(random_vectors(1)))


# -- upsert ---------------------------------------------------------------------------------------


async def test_upsert_the_same_id_replaces_the_record(store: StoreUnderTest) -> None:
    await filled(store, records_of(random_vectors(3)))
    replacement = {"id": "r1", "vector": [1.0] + [0.0] * (DIM - 1), "text": "new", "metadata": {"v": 2}}
    assert await store.call("upsert", records=[replacement]) == 1
    assert await store.call("count") == 3
    [best] = await store.call("search", vector=replacement["vector"], top_k=1)
    assert (best.id, best.text, best.metadata) == ("r1", "new", {"v": 2})
    assert best.score == pytest.approx(1.0, abs=1e-5)


async def test_the_same_id_twice_in_one_upsert_keeps_the_last(store: StoreUnderTest) -> None:
    await store.call("create_collection", dimension=2)
    first, last = {"id": "a", "vector": [1, 0], "text": "first"}, {"id": "a", "vector": [0, 1], "text": "last"}
    await store.call("upsert", records=[first, last])
    assert await store.call("count") == 1
    [hit] = await store.call("search", vector=[0, 1])
    assert (hit.text, hit.score) == ("last", pytest.approx(1.0, abs=1e-5))


async def test_a_vector_of_the_wrong_length_names_the_record_and_writes_nothing(store: StoreUnderTest) -> None:
    await store.call("create_collection", dimension=DIM)
    records = records_of(random_vectors(3))
    records[2]["vector"] = records[2]["vector"][:-1]
    with pytest.raises(PluginInvalidArgument) as caught:
        await store.call("upsert", records=records)
    assert "record 'r2'" in caught.value.message
    assert f"{DIM - 1} dimensions" in caught.value.message and f"vectors of {DIM}" in caught.value.message
    assert await store.call("count") == 0


async def test_a_zero_vector_is_refused(store: StoreUnderTest) -> None:
    """Cosine similarity has no meaning for a vector without direction."""
    await store.call("create_collection", dimension=2)
    with pytest.raises(PluginInvalidArgument, match="record 'z' is all zeros"):
        await store.call("upsert", records=[{"id": "z", "vector": [0, 0]}])
    with pytest.raises(PluginInvalidArgument, match="query vector is all zeros"):
        await store.call("search", vector=[0, 0])


async def test_text_and_metadata_come_back_with_hits(store: StoreUnderTest) -> None:
    metadata = {"document_id": "d1", "dataset_id": "ds", "position": 3, "enabled": True, "tags": ["a", "b"]}
    await store.call("create_collection", dimension=2)
    await store.call("upsert", records=[{"id": "c1", "vector": [3, 4], "text": "Ünïcode ✓", "metadata": metadata}])
    [hit] = await store.call("search", vector=[3, 4])
    assert isinstance(hit, VectorHit)
    assert (hit.id, hit.text, hit.metadata) == ("c1", "Ünïcode ✓", metadata)
    assert hit.score == pytest.approx(1.0, abs=1e-5)


# -- search ---------------------------------------------------------------------------------------


async def test_search_ranks_by_cosine_similarity_as_numpy_does(store: StoreUnderTest) -> None:
    records = records_of(random_vectors(60))
    await filled(store, records)
    for query in random_vectors(5, seed=11):
        expected = cosine_ranking(query, records)[:10]
        hits = await store.call("search", vector=query, top_k=10)
        assert [h.id for h in hits] == [i for i, _ in expected]
        assert [h.score for h in hits] == pytest.approx([s for _, s in expected], abs=1e-5)
        assert hits[0].text == f"text {hits[0].id[1:]}"


async def test_scores_do_not_depend_on_vector_length(store: StoreUnderTest) -> None:
    await store.call("create_collection", dimension=2)
    await store.call("upsert", records=[{"id": "short", "vector": [0.001, 0.001]}, {"id": "long", "vector": [-50, 0]}])
    hits = await store.call("search", vector=[1000, 1000])
    assert [(h.id, round(h.score, 4)) for h in hits] == [("short", 1.0), ("long", round(-(0.5**0.5), 4))]


async def test_top_k_bounds_the_hits(store: StoreUnderTest) -> None:
    records = records_of(random_vectors(12))
    await filled(store, records)
    query = random_vectors(1, seed=3)[0]
    assert len(await store.call("search", vector=query, top_k=5)) == 5
    assert len(await store.call("search", vector=query)) == 4  # the default
    everything = await store.call("search", vector=query, top_k=100)
    assert [h.id for h in everything] == [i for i, _ in cosine_ranking(query, records)]


async def test_score_threshold_drops_the_hits_under_it(store: StoreUnderTest) -> None:
    records = records_of(random_vectors(40))
    await filled(store, records)
    query = random_vectors(1, seed=5)[0]
    ranking = cosine_ranking(query, records)
    threshold = (ranking[3][1] + ranking[4][1]) / 2  # between the 4th and 5th best
    hits = await store.call("search", vector=query, top_k=10, score_threshold=threshold)
    assert [h.id for h in hits] == [i for i, _ in ranking[:4]]
    assert await store.call("search", vector=query, score_threshold=ranking[0][1] + 0.01) == []


async def test_a_query_of_the_wrong_length_names_both_lengths(store: StoreUnderTest) -> None:
    await filled(store, records_of(random_vectors(2)))
    with pytest.raises(PluginInvalidArgument, match=rf"query vector has 3 dimensions.* vectors of {DIM}"):
        await store.call("search", vector=[1, 2, 3])


# -- filters --------------------------------------------------------------------------------------

FILTERED_METADATA = [
    {"document_id": f"d{i % 5}", "dataset_id": "ds1" if i % 3 else "ds2", "n": i % 4, "flag": i % 2 == 0}
    | ({"label": "x"} if i % 7 == 0 else {})
    for i in range(70)
]

FILTERS = [
    {"document_id": "d1"},
    {"document_id": {"in": ["d1", "d3"]}},
    {"document_id": {"not_in": ["d1", "d3"]}},
    {"document_id": {"in": ["d0", "d1", "d2"]}, "dataset_id": "ds2"},
    {"document_id": {"not_in": ["d0"]}, "dataset_id": {"not_in": ["ds1"]}},
    {"n": 1},
    {"n": {"in": [0, 3]}},
    {"n": "1"},  # a string is not the integer
    {"flag": True},
    {"flag": 1},  # nor is an integer the boolean
    {"n": {"in": [1, True, "2"]}},
    {"label": "x"},
    {"label": {"not_in": ["x"]}},  # records without the field pass not_in
    {"missing": "x"},
    {"document_id": {"not_in": []}},
    {"document_id": "d9"},
]


@pytest.mark.parametrize("conditions", FILTERS, ids=[str(f) for f in FILTERS])
async def test_filters_keep_what_the_language_says(store: StoreUnderTest, conditions: dict[str, Any]) -> None:
    records = records_of(random_vectors(70), FILTERED_METADATA)
    await filled(store, records)
    query = random_vectors(1, seed=9)[0]
    expected = [(i, s) for i, s in cosine_ranking(query, records) if meets(records[int(i[1:])]["metadata"], conditions)]
    hits = await store.call("search", vector=query, top_k=8, filter=conditions)
    assert [h.id for h in hits] == [i for i, _ in expected[:8]]
    assert [h.score for h in hits] == pytest.approx([s for _, s in expected[:8]], abs=1e-5)


async def test_in_an_empty_list_matches_nothing(store: StoreUnderTest) -> None:
    await filled(store, records_of(random_vectors(5), FILTERED_METADATA[:5]))
    assert await store.call("search", vector=random_vectors(1)[0], filter={"document_id": {"in": []}}) == []
    assert await store.call("delete_where", filter={"document_id": {"in": []}}) == 0
    assert await store.call("count") == 5


async def test_filters_over_a_large_collection(store: StoreUnderTest) -> None:
    """Large selections and large exclusions: faiss answers these with IDSelectors rather than by
    ranking the kept vectors itself, and every store must still agree with numpy."""
    metadata = [{"document_id": f"d{i % 10}", "dataset_id": "ds"} for i in range(1500)]
    records = records_of(random_vectors(1500, dimension=4), metadata)
    await filled(store, records)
    query = random_vectors(1, dimension=4, seed=2)[0]
    for conditions in (
        {"document_id": {"not_in": ["d3"]}},
        {"document_id": {"in": [f"d{i}" for i in range(9)]}},
        {"dataset_id": "ds"},
        {"dataset_id": "ds", "document_id": {"not_in": ["d0", "d1"]}},
    ):
        expected = [i for i, _ in cosine_ranking(query, records) if meets(records[int(i[1:])]["metadata"], conditions)]
        hits = await store.call("search", vector=query, top_k=6, filter=conditions)
        assert [h.id for h in hits] == expected[:6], conditions


BAD_FILTERS = [
    ({"document_id": {"eq": "d1"}}, "takes a value"),
    ({"document_id": {"in": ["a"], "not_in": ["b"]}}, "takes a value"),
    ({"document_id": ["d1"]}, "not list"),
    ({"document_id": {"in": "d1"}}, "takes a list of values, not str"),
    ({"score": 0.5}, "not float"),
    ({"document_id": None}, "not null"),
    ({"document_id": {"in": [{"a": 1}]}}, "not dict"),
    ({"a.b": "x"}, "not a metadata field name"),
    ({"": "x"}, "not a metadata field name"),
]


@pytest.mark.parametrize(("conditions", "message"), BAD_FILTERS, ids=[str(f) for f, _ in BAD_FILTERS])
async def test_a_filter_outside_the_language_is_an_invalid_argument(
    store: StoreUnderTest, conditions: dict[str, Any], message: str
) -> None:
    await filled(store, records_of(random_vectors(2)))
    with pytest.raises(PluginInvalidArgument, match=message):
        await store.call("search", vector=random_vectors(1)[0], filter=conditions)
    with pytest.raises(PluginInvalidArgument, match=message):
        await store.call("delete_where", filter=conditions)
    assert await store.call("count") == 2


async def test_delete_where_needs_a_condition(store: StoreUnderTest) -> None:
    await filled(store, records_of(random_vectors(2)))
    with pytest.raises(PluginInvalidArgument, match="at least one condition"):
        await store.call("delete_where", filter={})
    assert await store.call("count") == 2


# -- deleting -------------------------------------------------------------------------------------


async def test_delete_counts_what_was_there(store: StoreUnderTest) -> None:
    records = records_of(random_vectors(6))
    await filled(store, records)
    assert await store.call("delete", ids=["r1", "r4", "gone", "r1"]) == 2
    assert await store.call("count") == 4
    hits = await store.call("search", vector=records[1]["vector"], top_k=10)
    assert sorted(h.id for h in hits) == ["r0", "r2", "r3", "r5"]
    assert await store.call("delete", ids=[]) == 0


async def test_delete_where_removes_a_documents_vectors(store: StoreUnderTest) -> None:
    records = records_of(random_vectors(70), FILTERED_METADATA)
    await filled(store, records)
    doomed = {"document_id": "d2", "dataset_id": "ds1"}
    assert await store.call("delete_where", filter=doomed) == sum(meets(r["metadata"], doomed) for r in records)
    left = [r for r in records if not meets(r["metadata"], doomed)]
    assert await store.call("count") == len(left)
    hits = await store.call("search", vector=random_vectors(1)[0], top_k=100)
    assert sorted(h.id for h in hits) == sorted(r["id"] for r in left)
    assert await store.call("delete_where", filter=doomed) == 0


async def test_deleted_ids_can_be_written_again(store: StoreUnderTest) -> None:
    await filled(store, records_of(random_vectors(3)))
    await store.call("delete", ids=["r0"])
    await store.call("upsert", records=[{"id": "r0", "vector": [1.0] * DIM, "text": "back"}])
    [hit] = await store.call("search", vector=[1.0] * DIM, top_k=1)
    assert (hit.id, hit.text, await store.call("count")) == ("r0", "back", 3)


# -- persistence ----------------------------------------------------------------------------------


async def test_a_new_store_instance_on_the_same_place_sees_the_data(store: StoreUnderTest) -> None:
    records = records_of(random_vectors(20), FILTERED_METADATA[:20])
    await filled(store, records)
    await store.call("delete", ids=["r3"])
    if store.name == "qdrant":
        # Qdrant's local mode locks its directory: one client at a time.
        await store.close()
    # No close for the others: a process that dies without closing loses nothing acknowledged.
    again = type(store)(store.name, store.config)
    try:
        assert await again.call("count") == 19
        query = random_vectors(1, seed=4)[0]
        expected = [i for i, _ in cosine_ranking(query, records) if i != "r3"]
        assert [h.id for h in await again.call("search", vector=query, top_k=5)] == expected[:5]
        hits = await again.call("search", vector=query, filter={"document_id": "d1"}, top_k=50)
        assert {h.id for h in hits} == {r["id"] for r in records if r["metadata"]["document_id"] == "d1"}
        with pytest.raises(PluginInvalidArgument, match="dimension"):
            await again.call("create_collection", dimension=DIM + 1)
    finally:
        await again.close()


async def test_a_large_upsert_round_trips(store: StoreUnderTest) -> None:
    """More records than one Qdrant request carries, and a realistic dimension."""
    records = records_of(random_vectors(700, dimension=384))
    await filled(store, records)
    assert await store.call("count") == 700
    [hit] = await store.call("search", vector=records[123]["vector"], top_k=1)
    assert (hit.id, hit.score) == ("r123", pytest.approx(1.0, abs=1e-5))


def test_the_filter_reference_agrees_with_itself() -> None:
    """The plain reference above is what the stores are held to; pin a few of its answers."""
    assert meets({"a": 1}, {"a": 1}) and not meets({"a": 1}, {"a": True}) and not meets({"a": "1"}, {"a": 1})
    assert meets({}, {"a": {"not_in": [1]}}) and not meets({}, {"a": {"in": [1]}})
    assert meets({"a": 2, "b": "x"}, {"a": {"in": [1, 2]}, "b": "x"}) and not meets({"a": 2}, {"a": 2, "b": "x"})
