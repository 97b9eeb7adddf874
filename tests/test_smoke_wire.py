from typing import Any


def test_entity_type_round_trip(afd: Any) -> None:
    afd.put_entity_type(name="customer", description="a customer")
    got = afd.get_entity_types(name="customer")["entityTypes"]
    assert [item["name"] for item in got] == ["customer"]
