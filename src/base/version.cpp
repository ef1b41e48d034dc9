#include "pgtls/version.hpp"

namespace pgtls {

std::string_view version() noexcept { return PGTLS_VERSION_STRING; }

}  // namespace pgtls
