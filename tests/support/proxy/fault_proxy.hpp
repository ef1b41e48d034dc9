// A TCP proxy on 127.0.0.1 between a client under test and a real server, injecting network
// faults: cut both directions after N bytes in one direction, go silent (stop forwarding but
// keep both sockets open, as when the network drops every packet), or delay every chunk.
// Each accepted connection gets its own upstream connection and counts its own bytes; one
// thread forwards for all of them. The destructor closes every socket it opened and joins
// that thread, so a test measuring its own fds and threads does so after the proxy is gone.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgtls::test {

class FaultProxy {
public:
    enum class Direction { client_to_server, server_to_client };
    enum class Action {
        cut,        // forward exactly after_bytes, then shut down and close both sockets
        go_silent,  // forward exactly after_bytes, then forward nothing more either way, sockets open
    };
    struct Fault {
        Direction direction = Direction::server_to_client;
        std::size_t after_bytes = 0;
        Action action = Action::cut;
    };
    // One recv() worth of bytes forwarded (or, for the chunk that triggered a fault, the part
    // forwarded before it fired), in the order they went through.
    struct Chunk {
        Direction direction;
        std::size_t bytes;
    };

    // Listens on 127.0.0.1 (ephemeral port) and forwards to target_host:target_port.
    FaultProxy(const std::string& target_host, int target_port);
    // The same, listening on listen_host (IPv4) inside the network namespace `netns` (a name
    // under /var/run/netns, as `ip netns add` makes; needs root) while the connections to the
    // target are made from this process's own namespace: a real link between client and
    // proxy that a test can take down.
    FaultProxy(const std::string& target_host, int target_port, const std::string& listen_host, const std::string& netns);
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    std::uint16_t port() const;

    // The fault armed on connections accepted from now on (nullopt: forward faithfully).
    void set_fault(std::optional<Fault> fault);
    // Every connection open now stops forwarding in both directions, sockets kept open:
    // network loss on established paths. Later connections follow set_fault().
    void silence_open_connections();
    // Sleep this long before forwarding each chunk (both directions, all connections).
    void set_chunk_delay(std::chrono::milliseconds delay);

    std::size_t connections_accepted() const;
    // Connections whose sockets the proxy still holds.
    std::size_t connections_open() const;
    // The chunks of connection `index` (0 = the first accepted) so far.
    std::vector<Chunk> trace(std::size_t index) const;
    // Waits until the proxy holds no connection (the client and server both went away, or
    // the proxy cut them); false on timeout. Silent connections are only closed by the
    // destructor.
    bool wait_until_closed(std::chrono::milliseconds timeout) const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace pgtls::test
