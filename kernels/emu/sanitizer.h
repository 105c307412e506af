// sanitizer.h — device memory, and the checks of checked launches (internal to libsara_emu).
//
// Device memory (sara_emu_malloc) is recorded in a table. In sanitizer mode every allocation is its own mapping:
// guard pages, redzones on both sides, no rounding, contents NaN-filled. A checked launch runs the instrumented
// variant of a kernel (every load, store and atomic calls a __tsan_* hook, implemented in sanitizer.cpp) on
// one worker and checks, per access: memcheck (global accesses against the allocations, shared accesses against
// each __shared__ array and the dynamic area, both with redzones), racecheck and initcheck (shadow state per byte
// of shared memory: last writer, last readers, barrier interval, warp synchronisation). The runtime reports the
// block's events (start, completed barriers and warp operations) through the functions below.
#pragma once

#include "runtime.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace emu::detail::san
{
/// Whether new allocations get guard pages and checked launches are used for every kernel (sara_emu_set_sanitize).
bool enabled();
void set_enabled(bool on);

/// Device memory. `error` is set when nullptr / false is returned.
void* allocate(std::size_t bytes, std::string& error);
bool release(void* p, std::string& error);

/// The allocation containing p (its user bytes), if p is inside one.
struct Span
{
    std::uintptr_t lo = 0;
    std::size_t bytes = 0;
};
bool find_allocation(const void* p, Span& out);

/// A checked launch on the calling worker: its fiber stacks (accesses there are locals, not checked) and threads.
/// Returns the dynamic shared area (with redzones) the kernel must use.
void* begin_launch(const Launch& launch, const char* stacks, std::size_t stacks_bytes, unsigned threads);
void begin_block();
/// The barrier interval (or the block) ended; returns the interval's first racecheck finding, else its first
/// initcheck finding (a read of unwritten shared memory no other thread's write raced with), or "".
std::string barrier_completed();
std::string end_block();
void warp_completed(unsigned warp, unsigned group);
void end_launch();

/// Modules (sara_emu_load_module): the shared section registered while a module loads belongs to it.
void set_loading_module(int module);
void forget_module(int module);
} // namespace emu::detail::san
