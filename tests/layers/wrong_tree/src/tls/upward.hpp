#include "protocol/flow.hpp"
