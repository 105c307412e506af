// fiber.h — minimal user-space context switch for the emulator's CUDA threads.
//
// x86-64: a hand-written switch that saves only the callee-saved registers (no syscall, a few ns).
// Elsewhere (or with -DSARA_EMU_UCONTEXT): glibc makecontext/swapcontext, correct but far slower.
#pragma once

#include <cstddef>

#if !defined(__x86_64__) && !defined(SARA_EMU_UCONTEXT)
#define SARA_EMU_UCONTEXT 1
#endif

#if defined(SARA_EMU_UCONTEXT)
#include <ucontext.h>
#endif

namespace emu::detail
{
/// A suspended execution context: where to resume a fiber (or the scheduler).
struct Context
{
#if defined(SARA_EMU_UCONTEXT)
    ucontext_t uc;
#else
    void* sp = nullptr;
#endif
};

/// Prepares ctx to start `entry` (which must never return) on the stack [lo, lo + size).
void context_init(Context& ctx, char* lo, std::size_t size, void (*entry)());

/// Saves the running context into `from` and resumes `to`.
void context_switch(Context& from, Context& to);

/// How the switch is done, for sara_emu_version().
const char* context_kind();
} // namespace emu::detail
