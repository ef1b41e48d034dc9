// Drives a non-blocking pgtls connection from an Asio executor (standalone Asio 1.22+).
//
// A "pollable" has interest() (up to two sockets, each with the readiness it waits for and an
// epoch that changes when the socket behind the number changes), deadline() (when to call it
// even without readiness) and advance() (do what is possible without blocking). The pump
// waits on Asio for exactly that, calls advance(), and arms again: the protocol stays in the
// pollable; the pump only translates readiness.
//
// Threading: the pump and its pollable are used from one thread (or one strand) at a time,
// as every Asio I/O object is. Destroying the pump cancels its waits; their handlers do
// nothing afterwards.
#pragma once

#include "pgtls/version.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

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
        for (auto& s : slots_) release(s);
        timer_.cancel();
    }
    AsioPump(const AsioPump&) = delete;
    AsioPump& operator=(const AsioPump&) = delete;

    // Call after starting an operation on the pollable, and whenever its interest may have
    // changed other than through the pump's own advance() calls.
    void arm() {
        const auto want = p_.interest();
        for (std::size_t i = 0; i < slots_.size(); ++i) arm_slot(i, want[i]);
        arm_timer(p_.deadline());
    }

private:
    struct Slot {
        std::unique_ptr<asio::posix::stream_descriptor> d;
        std::uint64_t epoch = 0;
        std::uint64_t serial = 0;  // distinguishes this registration's waits from earlier ones
        bool reading = false, writing = false;
    };

    void release(Slot& s) {
        if (s.d) {
            asio::error_code ignored;
            s.d->cancel(ignored);
            (void)s.d->release();  // the pollable owns the descriptor: never closed here
            s.d.reset();
        }
        s.reading = s.writing = false;
        ++s.serial;
    }

    template <class W>
    void arm_slot(std::size_t i, const W& want) {
        Slot& s = slots_[i];
        if (want.fd < 0) {
            release(s);
            return;
        }
        if (!s.d || s.epoch != want.epoch) {
            release(s);
            s.d = std::make_unique<asio::posix::stream_descriptor>(ex_, want.fd);
            s.epoch = want.epoch;
        }
        if (want.read && !s.reading) wait(i, asio::posix::stream_descriptor::wait_read);
        if (want.write && !s.writing) wait(i, asio::posix::stream_descriptor::wait_write);
    }

    void wait(std::size_t i, asio::posix::stream_descriptor::wait_type type) {
        Slot& s = slots_[i];
        const bool reading = type == asio::posix::stream_descriptor::wait_read;
        (reading ? s.reading : s.writing) = true;
        s.d->async_wait(type, [this, alive = alive_, i, reading, serial = s.serial](const asio::error_code& ec) {
            if (!*alive) return;
            Slot& slot = slots_[i];
            if (slot.serial == serial) (reading ? slot.reading : slot.writing) = false;
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
    std::array<Slot, 2> slots_;
    asio::steady_timer timer_;
    std::optional<std::chrono::steady_clock::time_point> timer_for_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pgtls::detail
PGTLS_API_END
