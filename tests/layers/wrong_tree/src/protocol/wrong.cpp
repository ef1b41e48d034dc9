#include "protocol/flow.hpp"
#include "transport/socket.hpp"
#include "pgtls/client.hpp"
