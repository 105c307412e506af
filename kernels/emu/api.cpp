// api.cpp — the exported C ABI of libsara_emu.so: kernel table, launch validation, errors, threads.
#include "fiber.h"
#include "runtime.h"

#include <deque>
#include <string>

#define SARA_EMU_API extern "C" __attribute__((visibility("default")))

namespace emu
{
namespace
{
std::deque<KernelEntry>& table()
{
    static std::deque<KernelEntry> entries; // deque: entry addresses stay valid as kernels register
    return entries;
}

thread_local std::string last_error;

int fail(std::string message)
{
    last_error = std::move(message);
    return 1;
}

const KernelEntry* find_entry(const void* fn)
{
    for (const auto& e : table())
        if (&e == fn) return &e;
    return nullptr;
}
} // namespace

bool register_kernel(const char* name, void* fn, Invoker invoke)
{
    table().push_back({name, fn, invoke});
    return true;
}
} // namespace emu

SARA_EMU_API void* sara_emu_get_function(const char* name)
{
    if (!name) return nullptr;
    for (auto& e : emu::table())
        if (std::string_view(e.name) == name) return &e;
    return nullptr;
}

SARA_EMU_API int sara_emu_launch(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
    unsigned dynamic_shared_bytes, void** params)
{
    using namespace emu::detail;
    const emu::KernelEntry* k = fn ? emu::find_entry(fn) : nullptr;
    if (!k) return emu::fail(fn ? "sara_emu_launch: unknown function handle (not from sara_emu_get_function)"
                                : "sara_emu_launch: function handle is NULL");
    auto dims = [](unsigned x, unsigned y, unsigned z) {
        return "(" + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) + ")";
    };
    const std::string name = k->name;
    if (gx == 0 || gy == 0 || gz == 0) return emu::fail(name + ": grid dimension is zero " + dims(gx, gy, gz));
    if (bx == 0 || by == 0 || bz == 0) return emu::fail(name + ": block dimension is zero " + dims(bx, by, bz));
    const unsigned long long per_block = static_cast<unsigned long long>(bx) * by * bz;
    if (per_block > kMaxThreadsPerBlock)
        return emu::fail(name + ": block " + dims(bx, by, bz) + " has " + std::to_string(per_block) +
            " threads, more than 1024 threads per block");
    if (bz > kMaxBlockZ) return emu::fail(name + ": block z " + std::to_string(bz) + " exceeds the limit of 64");
    if (gx > 2147483647u || gy > 65535 || gz > 65535)
        return emu::fail(name + ": grid " + dims(gx, gy, gz) + " exceeds the limits (2^31-1, 65535, 65535)");
    if (dynamic_shared_bytes > kMaxDynamicShared)
        return emu::fail(name + ": dynamic shared memory " + std::to_string(dynamic_shared_bytes) +
            " bytes exceeds 227 KiB (232448 bytes)");

    Launch launch;
    launch.kernel = k;
    launch.params = params;
    launch.grid = {gx, gy, gz};
    launch.block = {bx, by, bz};
    launch.dynamic_shared = dynamic_shared_bytes;
    launch.total_blocks = static_cast<std::uint64_t>(gx) * gy * gz;
    run_grid(launch);
    if (launch.failed.load()) return emu::fail(launch.error);
    return 0;
}

SARA_EMU_API const char* sara_emu_last_error(void) { return emu::last_error.c_str(); }

SARA_EMU_API int sara_emu_kernel_count(void) { return static_cast<int>(emu::table().size()); }

SARA_EMU_API const char* sara_emu_kernel_name(int i)
{
    if (i < 0 || i >= static_cast<int>(emu::table().size())) return nullptr;
    return emu::table()[static_cast<std::size_t>(i)].name;
}

SARA_EMU_API void sara_emu_set_threads(int n) { emu::detail::set_worker_threads(n); }

SARA_EMU_API int sara_emu_get_threads(void) { return emu::detail::worker_threads(); }

SARA_EMU_API const char* sara_emu_version(void)
{
    static const std::string v = std::string("sara_emu 0.1.0 (") + emu::detail::context_kind() + ", C++20 fibers)";
    return v.c_str();
}
