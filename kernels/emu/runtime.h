// runtime.h — the emulator's grid executor (internal to libsara_emu; kernels see only emu.h).
//
// A launch is split into blocks; worker OS threads (the caller plus a pool) claim blocks one at a time
// and run each block's threads as fibers with a round-robin scheduler (runtime.cpp).
#pragma once

#include "emu.h"
#include "registry.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace emu::detail
{
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockZ = 64;
constexpr unsigned kMaxDynamicShared = 227u * 1024u;

/// One grid in flight; lives on the launching thread's stack until every worker has left it.
struct Launch
{
    const KernelEntry* kernel = nullptr;
    void** params = nullptr;
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

/// Runs every block of the launch (on the caller and the pool); returns when the grid is finished.
void run_grid(Launch& launch);

void set_worker_threads(int n);
int worker_threads();
} // namespace emu::detail
