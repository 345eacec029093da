"""The simulator serves DynamoDB: routed, counted per operation, faults aimed at its operations, and a
base-table Query answered from one partition with moto's own results."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ecsops.sim import dynamodb_speed
from ecsops.sim.server import SimServer


def _table(sim: SimServer) -> Any:
    client = sim.client("dynamodb")
    client.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in ("pk", "sk", "g", "gs")],
        GlobalSecondaryIndexes=[{
            "IndexName": "by_g",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gs", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["n"]},
        }],
    )
    for p in range(5):
        for s in range(7):
            item = {"pk": {"S": f"p{p}"}, "sk": {"S": f"s{s:02d}"}, "n": {"N": str(s)}}
            if s % 2:  # a sparse index: only odd items carry its keys
                item.update({"g": {"S": f"g{s % 3}"}, "gs": {"S": f"{(p * 7 + s) % 4}#{p}"}})
            client.put_item(TableName="t", Item=item)
    return client


def test_dynamodb_requests_are_counted_and_reads_are_not_mutations(sim: SimServer) -> None:
    client = _table(sim)
    sim.reset_counts()
    client.get_item(TableName="t", Key={"pk": {"S": "p1"}, "sk": {"S": "s01"}})
    client.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p1"}})
    client.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "p1"}, "sk": {"S": "s01"}}]}})
    put = {"Put": {"TableName": "t", "Item": {"pk": {"S": "x"}, "sk": {"S": "y"}}}}
    client.transact_write_items(TransactItems=[put])
    assert sim.counts() == {
        "dynamodb:GetItem": 1, "dynamodb:Query": 1, "dynamodb:BatchGetItem": 1, "dynamodb:TransactWriteItems": 1,
    }
    assert sim.mutating_calls() == {"dynamodb:TransactWriteItems": 1}


def test_faults_aim_at_dynamodb_operations_and_a_lost_answer_still_takes_effect(sim: SimServer) -> None:
    client = _table(sim)
    sim.add_fault({"service": "dynamodb", "operation": "TransactWriteItems", "kind": "http500_after", "nth": 1})
    sim.add_fault({"service": "dynamodb", "operation": "GetItem", "kind": "throttling", "nth": 1})
    put = {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, "sk": {"S": "one"}}}}
    no_retry = boto3.client(
        "dynamodb", region_name="us-east-1", endpoint_url=sim.url, aws_access_key_id="testing",
        aws_secret_access_key="testing", config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as lost:
        no_retry.transact_write_items(TransactItems=[put])
    assert lost.value.response["Error"]["Code"] == "InternalServerError"
    found = client.get_item(TableName="t", Key={"pk": {"S": "new"}, "sk": {"S": "one"}})  # retried by botocore
    assert "Item" in found
    assert [(f.operation, f.kind) for f in sim.faults.delivered] == [
        ("TransactWriteItems", "http500_after"), ("GetItem", "throttling"),
    ]


@pytest.mark.parametrize(
    "request_",
    [
        {},
        {"ScanIndexForward": False},
        {"Limit": 3},
        {"ScanIndexForward": False, "Limit": 2},
        {
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": {"S": "p3"}, ":s": {"S": "s0"}},
        },
        {"FilterExpression": "n > :n", "ExpressionAttributeValues": {":p": {"S": "p3"}, ":n": {"N": "3"}}},
        {"IndexName": "by_g", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "g1"}}},
        {
            "IndexName": "by_g", "KeyConditionExpression": "g = :g AND gs >= :s", "ScanIndexForward": False,
            "Limit": 2, "ExpressionAttributeValues": {":g": {"S": "g0"}, ":s": {"S": "1"}},
        },
    ],
)
def test_a_partition_query_answers_what_moto_answers(sim: SimServer, request_: dict[str, Any]) -> None:
    client = _table(sim)
    query = {
        "TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p3"}},
        **request_,
    }
    fast = client.query(**query)
    Table = dynamodb_speed.Table
    patched = Table.query, Table.all_items
    Table.query, Table.all_items = dynamodb_speed._originals["query"], dynamodb_speed._originals["all_items"]
    try:
        plain = client.query(**query)
    finally:
        Table.query, Table.all_items = patched
    for answer in (fast, plain):
        answer.pop("ResponseMetadata")
    assert fast == plain
    assert fast["Items"]
