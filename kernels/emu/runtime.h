// runtime.h — the emulator's grid executor (internal to libsara_emu; kernels see only emu.h).
//
// A launch is split into blocks; worker OS threads (the caller plus a pool) claim blocks one at a time
// and run each block's threads as fibers with a scheduler whose order is a setting (runtime.cpp).
// Checked launches (the sanitizer variant) run their blocks on the calling thread only (sanitizer.cpp).
#pragma once

#include "emu.h"
#include "registry.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace emu::detail
{
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockZ = 64;
constexpr unsigned kMaxDynamicShared = 227u * 1024u;

/// The order in which a block's ready threads (and so the lanes of each warp) run between barriers and warp
/// operations, and the order in which blocks are claimed: forward, reverse, or shuffled by a seed (a new
/// permutation each round, derived from the seed, the block and the round: the same on every run).
struct Schedule
{
    enum Kind : int { Forward, Reverse, Shuffle };
    Kind kind = Forward;
    std::uint64_t seed = 0;
};

/// "forward", "reverse" or "shuffle:SEED".
bool parse_schedule(std::string_view text, Schedule& out);
std::string schedule_text(const Schedule& s);

/// One grid in flight; lives on the launching thread's stack until every worker has left it.
struct Launch
{
    const KernelEntry* kernel = nullptr;
    void** params = nullptr;
    int variant = kFast;
    Schedule schedule;
    uint3 grid{1, 1, 1};
    uint3 block{1, 1, 1};
    unsigned dynamic_shared = 0;
    std::uint64_t total_blocks = 0;
    std::atomic<std::uint64_t> next_block{0};
    std::atomic<bool> failed{false};
    int active_helpers = 0; // guarded by the pool's mutex
    std::mutex error_mutex;
    std::string error;

    /// Records the first failure and makes the remaining blocks skip.
    void fail(const std::string& message);
};

/// Runs every block of the launch (on the caller and, for the fast variant, the pool); returns when the grid is finished.
void run_grid(Launch& launch);

void set_worker_threads(int n);
int worker_threads();

/// "kernel NAME block (x,y,z) thread (x,y,z)" for the running fiber (messages of the sanitizer).
std::string current_where();

/// Fails the launch with `message` and abandons the running fiber: it is never resumed, and its block stops.
[[noreturn]] void abort_fiber(const std::string& message);

/// "file.cu:123" from a __builtin_FILE() path and line.
std::string site_text(const char* file, int line);
} // namespace emu::detail
