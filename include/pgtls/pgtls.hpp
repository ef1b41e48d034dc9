/// \file
/// pgtls — umbrella header.
#pragma once

#include "pgtls/version.hpp"

#include "pgtls/backends.hpp"
#include "pgtls/client.hpp"
#include "pgtls/config.hpp"
#include "pgtls/error.hpp"
#include "pgtls/pool.hpp"
#include "pgtls/result.hpp"
#include "pgtls/session.hpp"
#include "pgtls/trace.hpp"
#include "pgtls/types.hpp"
#include "pgtls/type_loader.hpp"
