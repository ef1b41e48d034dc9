// Server control for tests that disturb a server on purpose (restarts): runs the rig's own
// script, scripts/test-servers.sh, from the source tree this test binary was built from.
#include <gtest/gtest.h>

#include <cstdlib>

#include "test_env.hpp"

#ifndef PGTLS_SOURCE_DIR
#error "PGTLS_SOURCE_DIR must name the source tree (for scripts/test-servers.sh)"
#endif

namespace pgtls::test {

void restart_test_server(std::string_view name) {
    const std::string cmd = "PGTLS_TEST_DIR=" + quote_conninfo_value(test_env().dir) + " " PGTLS_SOURCE_DIR
                            "/scripts/test-servers.sh restart " + std::string(name) + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

}  // namespace pgtls::test
