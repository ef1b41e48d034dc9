#include "pgtls/error.hpp"
