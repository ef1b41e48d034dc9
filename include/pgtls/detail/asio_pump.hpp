// Drives non-blocking pgtls work from an Asio executor (standalone Asio 1.22+): one connection
// (AsioConnection: its socket and a cancel request's) or a whole pool (AsioPool: every socket
// of its connections) alike.
//
// A "pollable" has interest() (a range of watches: fd, the readiness it waits for, and an
// epoch that names one socket in the process — a new socket, even on a reused descriptor
// number, has a new one; fd < 0: none), deadline() (when to call it even without readiness)
// and advance() (do what is possible without blocking). The pump waits on Asio for exactly
// that, calls advance(), and arms again: the protocol stays in the pollable; the pump only
// translates readiness.
//
// Threading: the pump and its pollable are used from one thread (or one strand) at a time,
// as every Asio I/O object is. Destroying the pump cancels its waits; their handlers do
// nothing afterwards.
#pragma once

#include "pgtls/version.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <asio/any_io_executor.hpp>
#include <asio/error.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

PGTLS_API_BEGIN
namespace pgtls::detail {

template <class Pollable>
class AsioPump {
public:
    AsioPump(asio::any_io_executor ex, Pollable& pollable) : ex_(std::move(ex)), p_(pollable), timer_(ex_) {}
    ~AsioPump() {
        *alive_ = false;
        for (auto& [epoch, s] : slots_) release(s);
        timer_.cancel();
    }
    AsioPump(const AsioPump&) = delete;
    AsioPump& operator=(const AsioPump&) = delete;

    // Call after starting work on the pollable, and whenever its interest may have changed
    // other than through the pump's own advance() calls.
    void arm() {
        const auto want = p_.interest();
        std::set<std::uint64_t> wanted;
        for (const auto& w : want)
            if (w.fd >= 0) wanted.insert(w.epoch);
        // Sockets no longer wanted go first: a new socket may have reused a descriptor number.
        for (auto it = slots_.begin(); it != slots_.end();) {
            if (wanted.count(it->first)) {
                ++it;
                continue;
            }
            release(it->second);
            it = slots_.erase(it);
        }
        for (const auto& w : want) {
            if (w.fd < 0) continue;
            Slot& s = slots_[w.epoch];
            if (!s.d) {
                s.d = std::make_unique<asio::posix::stream_descriptor>(ex_, w.fd);
                s.serial = ++serials_;
            }
            if (w.read && !s.reading) wait(w.epoch, s, asio::posix::stream_descriptor::wait_read);
            if (w.write && !s.writing) wait(w.epoch, s, asio::posix::stream_descriptor::wait_write);
        }
        arm_timer(p_.deadline());
    }

private:
    struct Slot {
        std::unique_ptr<asio::posix::stream_descriptor> d;
        // Names this registration: a socket unwatched and watched again (a pool's idle
        // connection lent anew) gets a new one, so the old waits' late handlers are told apart.
        std::uint64_t serial = 0;
        bool reading = false, writing = false;
    };

    static void release(Slot& s) {
        if (!s.d) return;
        asio::error_code ignored;
        s.d->cancel(ignored);
        (void)s.d->release();  // the pollable owns the descriptor: never closed here
        s.d.reset();
    }

    void wait(std::uint64_t epoch, Slot& s, asio::posix::stream_descriptor::wait_type type) {
        const bool reading = type == asio::posix::stream_descriptor::wait_read;
        (reading ? s.reading : s.writing) = true;
        s.d->async_wait(type, [this, alive = alive_, epoch, reading, serial = s.serial](const asio::error_code& ec) {
            if (!*alive) return;
            // Epochs are never reused: a wait of a socket since forgotten finds no slot.
            if (auto it = slots_.find(epoch); it != slots_.end() && it->second.serial == serial)
                (reading ? it->second.reading : it->second.writing) = false;
            if (ec == asio::error::operation_aborted) return;
            step();
        });
    }

    void arm_timer(std::optional<std::chrono::steady_clock::time_point> when) {
        if (when == timer_for_) return;
        timer_for_ = when;
        timer_.cancel();
        if (!when) return;
        timer_.expires_at(*when);
        timer_.async_wait([this, alive = alive_, when](const asio::error_code& ec) {
            if (!*alive || ec == asio::error::operation_aborted) return;
            if (timer_for_ == when) timer_for_.reset();
            step();
        });
    }

    void step() {
        // advance() may complete an operation whose handler destroys the pump.
        const std::shared_ptr<bool> alive = alive_;
        p_.advance();
        if (*alive) arm();
    }

    asio::any_io_executor ex_;
    Pollable& p_;
    std::map<std::uint64_t, Slot> slots_;  // by epoch
    std::uint64_t serials_ = 0;
    asio::steady_timer timer_;
    std::optional<std::chrono::steady_clock::time_point> timer_for_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pgtls::detail
PGTLS_API_END
