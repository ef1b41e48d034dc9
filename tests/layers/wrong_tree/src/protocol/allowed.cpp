#include "base/error_text.hpp"
#include "tls/session.hpp"
#include "pgtls/config.hpp"
