// fiber.cpp — context switch for the emulator's fibers (see fiber.h).
#include "fiber.h"

#include <cstdint>
#include <cstdlib>

#if !defined(SARA_EMU_UCONTEXT)

extern "C" void sara_emu_ctx_switch(void** save_sp, void* next_sp);
extern "C" void sara_emu_ctx_start();

// Push the callee-saved registers, swap stacks, pop the other side's registers and return into it.
// A new fiber's stack holds zeroed registers with r13 = entry and a return address of sara_emu_ctx_start.
asm(R"(
    .text
    .globl sara_emu_ctx_switch
    .hidden sara_emu_ctx_switch
    .type sara_emu_ctx_switch, @function
    .p2align 4
sara_emu_ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size sara_emu_ctx_switch, .-sara_emu_ctx_switch

    .globl sara_emu_ctx_start
    .hidden sara_emu_ctx_start
    .type sara_emu_ctx_start, @function
    .p2align 4
sara_emu_ctx_start:
    .cfi_startproc
    .cfi_undefined rip
    callq *%r13
    ud2
    .cfi_endproc
    .size sara_emu_ctx_start, .-sara_emu_ctx_start
    .section .note.GNU-stack,"",@progbits
    .text
)");

namespace emu::detail
{
void context_init(Context& ctx, char* lo, std::size_t size, void (*entry)())
{
    auto top = reinterpret_cast<std::uintptr_t>(lo + size) & ~std::uintptr_t{15};
    auto* sp = reinterpret_cast<std::uint64_t*>(top) - 9; // after the pops and ret, rsp = top - 16 (aligned)
    sp[0] = 0;                                                       // r15
    sp[1] = 0;                                                       // r14
    sp[2] = reinterpret_cast<std::uint64_t>(entry);                  // r13
    sp[3] = 0;                                                       // r12
    sp[4] = 0;                                                       // rbx
    sp[5] = 0;                                                       // rbp
    sp[6] = reinterpret_cast<std::uint64_t>(&sara_emu_ctx_start);    // return address
    sp[7] = 0;
    sp[8] = 0;
    ctx.sp = sp;
}

void context_switch(Context& from, Context& to) { sara_emu_ctx_switch(&from.sp, to.sp); }

const char* context_kind() { return "x86-64 asm switch"; }
} // namespace emu::detail

#else

namespace emu::detail
{
void context_init(Context& ctx, char* lo, std::size_t size, void (*entry)())
{
    if (getcontext(&ctx.uc) != 0) std::abort();
    ctx.uc.uc_stack.ss_sp = lo;
    ctx.uc.uc_stack.ss_size = size;
    ctx.uc.uc_link = nullptr;
    makecontext(&ctx.uc, entry, 0);
}

void context_switch(Context& from, Context& to)
{
    if (swapcontext(&from.uc, &to.uc) != 0) std::abort();
}

const char* context_kind() { return "ucontext (slow fallback)"; }
} // namespace emu::detail

#endif
