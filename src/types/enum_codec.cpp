// Enum labels: enum_out and enum_send both write the label's bytes.
#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls::detail {

std::string_view enum_label_view(std::string_view b, std::uint32_t type_oid, bool binary) {
    // A built-in type that is neither string-like nor unknown cannot hold an enum label.
    if (oid::array_of(type_oid) != 0 || oid::element_of(type_oid) != 0) {
        switch (type_oid) {
            case oid::text:
            case oid::varchar:
            case oid::bpchar:
            case oid::name: break;
            default: conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not an enum label");
        }
    }
    return text_view(b, type_oid, binary);
}

void unknown_enum_label(std::string_view label, std::uint32_t type_oid) {
    conversion_error("unknown label " + quoted(label) + " of enum " + type_name(type_oid) +
                     ": the C++ enum's enum_labels lacks it");
}

void unlabeled_enum_value(long long value) {
    conversion_error("enum value " + std::to_string(value) + " has no label in its enum_labels table");
}

}  // namespace pgtls::detail
