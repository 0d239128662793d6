"""The one place where plain dataclasses meet ronda.v1 protobuf messages.

Conversion is driven by field names, which match between `agent.model` and
the .proto. Timestamps become aware UTC datetimes; enums become lower-case
strings without their prefix (COVERAGE_FULL <-> "full").
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from ronda import model
from ronda.wire.v1 import ronda_pb2 as pb

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(model))


def _dataclass_of(hint: Any) -> type[DataclassInstance] | None:
    for candidate in typing.get_args(hint) or (hint,):
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    return None


def _enum_prefix(enum_desc: Any) -> str:  # an EnumDescriptor, pure Python or upb
    return enum_desc.values[0].name.rsplit("_", 1)[0] + "_"  # SOURCE_UNSPECIFIED -> SOURCE_


def to_message(obj: Any, message: Message) -> Message:
    """Fill `message` from dataclass `obj`; returns the message."""
    fields = message.DESCRIPTOR.fields_by_name
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        desc = fields[f.name]
        if value is None:
            continue
        if isinstance(value, datetime):
            getattr(message, f.name).FromDatetime(value.astimezone(UTC))
        elif isinstance(value, dict):
            getattr(message, f.name).update(value)
        elif isinstance(value, list):
            target = getattr(message, f.name)
            if desc.message_type is not None:
                for item in value:
                    to_message(item, target.add())
            else:
                target.extend(value)
        elif dataclasses.is_dataclass(value):
            to_message(value, getattr(message, f.name))
        elif desc.enum_type is not None:
            setattr(
                message,
                f.name,
                desc.enum_type.values_by_name[_enum_prefix(desc.enum_type) + value.upper()].number,
            )
        else:
            setattr(message, f.name, value)
    return message


def from_message(message: Message, cls: type[T]) -> T:
    """Build dataclass `cls` from `message`."""
    kwargs: dict[str, Any] = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        desc = message.DESCRIPTOR.fields_by_name[f.name]
        value = getattr(message, f.name)
        nested = _dataclass_of(hints[f.name])
        if desc.message_type is not None and desc.message_type.full_name == "google.protobuf.Timestamp":
            kwargs[f.name] = value.ToDatetime(tzinfo=UTC) if message.HasField(f.name) else None
        elif desc.message_type is not None and desc.message_type.GetOptions().map_entry:
            kwargs[f.name] = dict(value)
        elif desc.is_repeated:
            kwargs[f.name] = [from_message(v, nested) for v in value] if nested else list(value)
        elif desc.message_type is not None:
            optional = type(None) in typing.get_args(hints[f.name])
            if optional and not message.HasField(f.name):
                kwargs[f.name] = None
            elif nested is None:
                raise TypeError(f"{cls.__name__}.{f.name}: a message field needs a dataclass type")
            else:
                kwargs[f.name] = from_message(value, nested)
        elif desc.enum_type is not None:
            name = desc.enum_type.values_by_number[value].name
            kwargs[f.name] = name[len(_enum_prefix(desc.enum_type)) :].lower()
        else:
            kwargs[f.name] = value
    return cls(**kwargs)


def snapshot_to_wire(snapshot: model.Snapshot) -> pb.Snapshot:
    return to_message(snapshot, pb.Snapshot())  # type: ignore[return-value]


def snapshot_from_wire(message: pb.Snapshot) -> model.Snapshot:
    return from_message(message, model.Snapshot)


def message_to_json(message: Message, indent: int | None = 2) -> str:
    """protobuf's JSON mapping with the .proto field names (the documented `--json` format)."""
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=indent)


def message_to_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
