// registry.h — registers extern "C" __global__ kernels so the C ABI can launch them by name.
//
// Every .cu is compiled twice (see CMakeLists.txt): a fast variant and a checked (sanitizer) variant whose loads
// and stores call the runtime's checks. Each generated TU includes the .cu inside its own namespace and calls
// register_if_kernel for every name its regex scan found; both variants land in the same table entry. A probe
// fallback variable makes the call a no-op when the scan matched something that is not a kernel (a comment, a
// macro body). A module (a mutant .cu built at test time, sara_emu_load_module) registers its kernels the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#define SARA_EMU_EXPORT __attribute__((visibility("default")))

namespace emu
{
/// Calls the kernel `fn` with arguments unpacked from a cuLaunchKernel-style array (params[i] -> argument i).
using Invoker = void (*)(void* fn, void** params);

enum Variant : int { kFast = 0, kChecked = 1 };

struct KernelEntry
{
    const char* name;
    void* fn[2] = {nullptr, nullptr};         // by Variant; null where that variant was not built
    Invoker invoke[2] = {nullptr, nullptr};
    unsigned params = 0;
    std::uint64_t pointer_params = 0;         // bit i: parameter i is a pointer (a device buffer)
    const char* signature = "";               // the parameter list as written in the .cu (names for messages)
    int module = 0;                           // 0: libsara_emu itself; otherwise the module that registered it
    mutable std::uint64_t clean[2] = {0, 0};  // by Variant: launches that finished without an error or a finding
};

/// Adds (or completes) a kernel's table entry (called from static initialisers); returns true.
SARA_EMU_EXPORT bool register_kernel(const char* name, int variant, void* fn, Invoker invoke, unsigned params,
    std::uint64_t pointer_params, const char* signature);

/// Tells the runtime where an image's static __shared__ variables of the checked variant live (section sara_shared).
SARA_EMU_EXPORT bool register_shared_section(const char* begin, const char* end);

template <class... A>
void invoke_kernel(void* fn, void** params)
{
    auto* f = reinterpret_cast<void (*)(A...)>(fn);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        f(*static_cast<std::remove_cvref_t<A>*>(params[I])...);
    }(std::index_sequence_for<A...>{});
    (void)params;
}

template <class... A>
bool register_function(const char* name, int variant, const char* signature, void (*fn)(A...))
{
    static_assert((std::is_trivially_copyable_v<std::remove_cvref_t<A>> && ...), "kernel arguments must be trivially copyable");
    static_assert(sizeof...(A) <= 64, "at most 64 kernel parameters");
    std::uint64_t pointers = 0;
    unsigned i = 0;
    ((pointers |= (std::is_pointer_v<std::remove_cvref_t<A>> ? 1ull : 0ull) << i++), ...);
    return register_kernel(name, variant, reinterpret_cast<void*>(fn), &invoke_kernel<A...>, sizeof...(A), pointers, signature);
}

/// The scan's fallback for a name that is not a kernel in the .cu's namespace.
struct NotAKernel {};

template <class T>
bool register_if_kernel(const char* name, int variant, const char* signature, T& entity)
{
    if constexpr (std::is_function_v<T>) return register_function(name, variant, signature, &entity);
    else { (void)name; (void)variant; (void)signature; (void)entity; return false; }
}
} // namespace emu
