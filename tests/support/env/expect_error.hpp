// Expects `f` to throw pgtls::Error of `kind` whose message contains `fragment` (a test
// failure otherwise, including when it returns normally).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "pgtls/error.hpp"

namespace pgtls::test {

template <class F>
void expect_error_kind(ErrorKind kind, F&& f, const std::string& fragment) {
    try {
        f();
        ADD_FAILURE() << "no error, expected " << to_string(kind) << " containing \"" << fragment << "\"";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.what();
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}

template <class F>
void expect_usage(F&& f, const std::string& fragment) {
    expect_error_kind(ErrorKind::usage, std::forward<F>(f), fragment);
}

}  // namespace pgtls::test
