// registry.h — registers extern "C" __global__ kernels so the C ABI can launch them by name.
//
// The generated TU for kernels/NAME.cu (see CMakeLists.txt) includes the .cu inside its own namespace and
// calls register_if_kernel for every name its regex scan found; a probe fallback variable makes the call
// a no-op when the scan matched something that is not a kernel (a comment, a macro body).
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

namespace emu
{
/// Calls the kernel `fn` with arguments unpacked from a cuLaunchKernel-style array (params[i] -> argument i).
using Invoker = void (*)(void* fn, void** params);

struct KernelEntry
{
    const char* name;
    void* fn;
    Invoker invoke;
};

/// Adds a kernel to the table (called from static initialisers); returns true.
bool register_kernel(const char* name, void* fn, Invoker invoke);

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
bool register_function(const char* name, void (*fn)(A...))
{
    static_assert((std::is_trivially_copyable_v<std::remove_cvref_t<A>> && ...), "kernel arguments must be trivially copyable");
    return register_kernel(name, reinterpret_cast<void*>(fn), &invoke_kernel<A...>);
}

/// The scan's fallback for a name that is not a kernel in the .cu's namespace.
struct NotAKernel {};

template <class T>
bool register_if_kernel(const char* name, T& entity)
{
    if constexpr (std::is_function_v<T>) return register_function(name, &entity);
    else { (void)name; (void)entity; return false; }
}
} // namespace emu
