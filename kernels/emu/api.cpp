// api.cpp — the exported C ABI of libsara_emu.so: kernel table, launch validation, schedules and their
// replay, sanitizer mode, device memory, modules, errors, threads.
#include "fiber.h"
#include "runtime.h"
#include "sanitizer.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#define SARA_EMU_API extern "C" __attribute__((visibility("default")))

namespace emu
{
namespace
{
std::mutex& table_mutex()
{
    static std::mutex m;
    return m;
}

std::deque<std::unique_ptr<KernelEntry>>& table()
{
    static std::deque<std::unique_ptr<KernelEntry>> entries; // entry addresses are the function handles
    return entries;
}

int g_loading_module = 0; // set while sara_emu_load_module runs the module's initialisers
int g_next_module = 1;

struct Module
{
    int id;
    void* handle;
};

thread_local std::string last_error;

int fail(std::string message)
{
    last_error = std::move(message);
    return 1;
}

const KernelEntry* find_entry(const void* fn)
{
    std::lock_guard lk(table_mutex());
    for (const auto& e : table())
        if (e.get() == fn) return e.get();
    return nullptr;
}

// ---- schedules ----------------------------------------------------------------------------------------
// One schedule runs each launch in that order; two run it in both orders from the same inputs and require equal
// bits in every buffer it was passed (a difference is a race). SARA_EMU_SCHEDULE at load, sara_emu_set_schedule.
struct Schedules
{
    detail::Schedule first;
    bool replay = false;
    detail::Schedule second;
};

bool parse_schedules(std::string_view text, Schedules& out)
{
    Schedules s;
    const std::size_t comma = text.find(',');
    if (!detail::parse_schedule(text.substr(0, comma), s.first)) return false;
    if (comma != std::string_view::npos)
    {
        if (!detail::parse_schedule(text.substr(comma + 1), s.second)) return false;
        s.replay = true;
    }
    out = s;
    return true;
}

std::mutex g_schedule_mutex;
Schedules g_schedules = [] {
    Schedules s;
    const char* env = std::getenv("SARA_EMU_SCHEDULE");
    if (env && *env && !parse_schedules(env, s))
    {
        std::fprintf(stderr, "sara_emu: SARA_EMU_SCHEDULE=%s is not forward, reverse, shuffle:SEED or two of them "
                             "separated by a comma; using forward\n", env);
        s = Schedules{};
    }
    return s;
}();

std::atomic<std::uint64_t> g_launches{0}, g_replayed{0}, g_checked{0};

/// The parameter buffers of a launch that are device allocations, for the replay; false when one is not.
struct Snapshot
{
    std::uintptr_t lo;
    std::size_t bytes;
    int param;
    std::vector<unsigned char> before, first;
};

bool snapshot(const KernelEntry* k, void** params, std::vector<Snapshot>& out)
{
    for (unsigned i = 0; i < k->params; ++i)
    {
        if (!((k->pointer_params >> i) & 1u)) continue;
        void* p = *static_cast<void**>(params[i]);
        if (!p) continue;
        detail::san::Span span;
        if (!detail::san::find_allocation(p, span)) return false; // host memory: nothing to restore it from
        bool seen = false;
        for (const Snapshot& s : out) seen = seen || s.lo == span.lo;
        if (!seen) out.push_back({span.lo, span.bytes, static_cast<int>(i), {}, {}});
    }
    for (Snapshot& s : out)
    {
        const auto* b = reinterpret_cast<const unsigned char*>(s.lo);
        s.before.assign(b, b + s.bytes);
    }
    return true;
}

std::string param_label(const KernelEntry* k, int index)
{
    std::string sig = k->signature;
    std::size_t start = 0;
    for (int i = 0; i < index && start != std::string::npos; ++i)
    {
        start = sig.find(',', start);
        if (start != std::string::npos) ++start;
    }
    if (start == std::string::npos) return "parameter " + std::to_string(index);
    std::string piece = sig.substr(start, sig.find(',', start) - start);
    std::size_t e = piece.find_last_not_of(" \t");
    std::size_t b = piece.find_last_of(" *&\t", e);
    return "parameter " + std::to_string(index) + " `" + piece.substr(b == std::string::npos ? 0 : b + 1, e - b) + "`";
}

int run(const KernelEntry* k, void** params, int variant, const detail::Schedule& schedule, uint3 grid, uint3 block,
    unsigned dynamic_shared, std::string& error)
{
    detail::Launch launch;
    launch.kernel = k;
    launch.params = params;
    launch.variant = variant;
    launch.schedule = schedule;
    launch.grid = grid;
    launch.block = block;
    launch.dynamic_shared = dynamic_shared;
    launch.total_blocks = static_cast<std::uint64_t>(grid.x) * grid.y * grid.z;
    detail::run_grid(launch);
    if (!launch.failed.load()) return 0;
    error = launch.error;
    return 1;
}
} // namespace

bool register_kernel(const char* name, int variant, void* fn, Invoker invoke, unsigned params, std::uint64_t pointer_params,
    const char* signature)
{
    std::lock_guard lk(table_mutex());
    KernelEntry* entry = nullptr;
    for (auto& e : table())
        if (e->module == g_loading_module && std::strcmp(e->name, name) == 0) entry = e.get();
    if (!entry)
    {
        table().push_back(std::make_unique<KernelEntry>());
        entry = table().back().get();
        entry->name = name;
        entry->module = g_loading_module;
    }
    entry->fn[variant] = fn;
    entry->invoke[variant] = invoke;
    entry->params = params;
    entry->pointer_params = pointer_params;
    entry->signature = signature;
    return true;
}
} // namespace emu

SARA_EMU_API void* sara_emu_get_function(const char* name)
{
    if (!name) return nullptr;
    std::lock_guard lk(emu::table_mutex());
    emu::KernelEntry* best = nullptr;
    for (auto& e : emu::table()) // a loaded module's kernel overrides the library's of the same name (the latest wins)
        if (std::string_view(e->name) == name && (!best || e->module > best->module)) best = e.get();
    return best;
}

SARA_EMU_API int sara_emu_launch(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
    unsigned dynamic_shared_bytes, void** params)
{
    using namespace emu::detail;
    const emu::KernelEntry* k = fn ? emu::find_entry(fn) : nullptr;
    if (!k) return emu::fail(fn ? "sara_emu_launch: unknown function handle (not from sara_emu_get_function, or its module was unloaded)"
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

#if defined(SARA_EMU_FMA_CONTRACT)
    // The kernels were compiled with -mfma (the build machine had FMA): on a CPU without it they would stop the
    // process with an illegal instruction. (This file itself is built without -mfma.)
    static const bool cpu_has_fma = [] { __builtin_cpu_init(); return __builtin_cpu_supports("fma") != 0; }();
    if (!cpu_has_fma)
        return emu::fail(name + ": this libsara_emu.so was built with FMA contraction (-mfma) and this CPU has no FMA; "
            "rebuild it here (cmake -DSARA_EMU_FMA=OFF, or on this machine)");
#endif
    // The checked variant in sanitizer mode, and for kernels that only have it (modules).
    const int variant = (san::enabled() || !k->fn[emu::kFast]) && k->fn[emu::kChecked] ? emu::kChecked : emu::kFast;
    emu::Schedules schedules;
    {
        std::lock_guard lk(emu::g_schedule_mutex);
        schedules = emu::g_schedules;
    }
    ++emu::g_launches;
    if (variant == emu::kChecked) ++emu::g_checked;
    const uint3 grid{gx, gy, gz}, block{bx, by, bz};
    std::string error;
    std::vector<emu::Snapshot> snaps;
    if (!schedules.replay || !emu::snapshot(k, params, snaps))
    {
        if (emu::run(k, params, variant, schedules.first, grid, block, dynamic_shared_bytes, error)) return emu::fail(error);
        __atomic_fetch_add(&k->clean[variant], 1, __ATOMIC_RELAXED);
        return 0;
    }

    // Replay: the same launch from the same inputs under the second schedule must give the same bits.
    if (emu::run(k, params, variant, schedules.first, grid, block, dynamic_shared_bytes, error)) return emu::fail(error);
    for (emu::Snapshot& s : snaps)
    {
        auto* p = reinterpret_cast<unsigned char*>(s.lo);
        s.first.assign(p, p + s.bytes);
        std::memcpy(p, s.before.data(), s.bytes);
    }
    if (emu::run(k, params, variant, schedules.second, grid, block, dynamic_shared_bytes, error)) return emu::fail(error);
    ++emu::g_replayed;
    for (const emu::Snapshot& s : snaps)
    {
        const auto* now = reinterpret_cast<const unsigned char*>(s.lo);
        if (std::memcmp(now, s.first.data(), s.bytes) == 0) continue;
        std::size_t at = 0;
        while (now[at] == s.first[at]) ++at;
        at &= ~std::size_t{3};
        unsigned a = 0, b = 0;
        std::memcpy(&a, s.first.data() + at, std::min<std::size_t>(4, s.bytes - at));
        std::memcpy(&b, now + at, std::min<std::size_t>(4, s.bytes - at));
        char words[64];
        std::snprintf(words, sizeof words, "0x%08x vs 0x%08x", a, b);
        return emu::fail("racecheck: kernel " + name + " " + dims(gx, gy, gz) + "x" + dims(bx, by, bz) +
            " gives different results under schedules " + schedule_text(schedules.first) + " and " +
            schedule_text(schedules.second) + ": the buffer of " + emu::param_label(k, s.param) +
            " differs first at byte " + std::to_string(at) + " (word " + words + "); a race (a missing barrier, "
            "or a result that depends on the order of threads or blocks)");
    }
    __atomic_fetch_add(&k->clean[variant], 1, __ATOMIC_RELAXED);
    return 0;
}

SARA_EMU_API const char* sara_emu_last_error(void) { return emu::last_error.c_str(); }

SARA_EMU_API int sara_emu_kernel_count(void)
{
    std::lock_guard lk(emu::table_mutex());
    return static_cast<int>(emu::table().size());
}

SARA_EMU_API const char* sara_emu_kernel_name(int i)
{
    std::lock_guard lk(emu::table_mutex());
    if (i < 0 || i >= static_cast<int>(emu::table().size())) return nullptr;
    return emu::table()[static_cast<std::size_t>(i)]->name;
}

/// Launches of kernel i (as sara_emu_kernel_name) that finished without an error or a finding, in variant 0 (fast)
/// or 1 (checked, sanitizer mode); 0 for an index out of range.
SARA_EMU_API unsigned long long sara_emu_kernel_clean_launches(int i, int variant)
{
    std::lock_guard lk(emu::table_mutex());
    if (i < 0 || i >= static_cast<int>(emu::table().size()) || variant < 0 || variant > 1) return 0;
    return __atomic_load_n(&emu::table()[static_cast<std::size_t>(i)]->clean[variant], __ATOMIC_RELAXED);
}

SARA_EMU_API void sara_emu_set_threads(int n) { emu::detail::set_worker_threads(n); }

SARA_EMU_API int sara_emu_get_threads(void) { return emu::detail::worker_threads(); }

SARA_EMU_API const char* sara_emu_version(void)
{
    static const std::string v = std::string("sara_emu 0.2.0 (") + emu::detail::context_kind() + ", C++20 fibers, " +
#if defined(SARA_EMU_FMA_CONTRACT)
        "fma contraction"
#else
        "no fma contraction"
#endif
        + ")";
    return v.c_str();
}

/// 1 when the kernels were built with a*b+c contracted into fma (as nvcc/NVRTC do), else 0.
SARA_EMU_API int sara_emu_fma_contraction(void)
{
#if defined(SARA_EMU_FMA_CONTRACT)
    return 1;
#else
    return 0;
#endif
}

// ---- schedules -------------------------------------------------------------------------------------
SARA_EMU_API int sara_emu_set_schedule(const char* spec)
{
    emu::Schedules s;
    if (!spec || !emu::parse_schedules(spec, s))
        return emu::fail(std::string("sara_emu_set_schedule: '") + (spec ? spec : "(null)") +
            "' is not forward, reverse, shuffle:SEED or two of them separated by a comma");
    std::lock_guard lk(emu::g_schedule_mutex);
    emu::g_schedules = s;
    return 0;
}

SARA_EMU_API const char* sara_emu_get_schedule(void)
{
    thread_local std::string text;
    std::lock_guard lk(emu::g_schedule_mutex);
    text = emu::detail::schedule_text(emu::g_schedules.first);
    if (emu::g_schedules.replay) text += "," + emu::detail::schedule_text(emu::g_schedules.second);
    return text.c_str();
}

/// Launch counters since load: all launches, launches replayed under a second schedule, checked launches.
SARA_EMU_API void sara_emu_get_counters(unsigned long long* launches, unsigned long long* replayed, unsigned long long* checked)
{
    if (launches) *launches = emu::g_launches.load();
    if (replayed) *replayed = emu::g_replayed.load();
    if (checked) *checked = emu::g_checked.load();
}

// ---- sanitizer mode and device memory --------------------------------------------------------------
SARA_EMU_API void sara_emu_set_sanitize(int on) { emu::detail::san::set_enabled(on != 0); }

SARA_EMU_API int sara_emu_get_sanitize(void) { return emu::detail::san::enabled() ? 1 : 0; }

SARA_EMU_API void* sara_emu_malloc(unsigned long long bytes)
{
    std::string error;
    void* p = emu::detail::san::allocate(static_cast<std::size_t>(bytes), error);
    if (!p) emu::fail(error);
    return p;
}

SARA_EMU_API int sara_emu_free(void* p)
{
    if (!p) return 0;
    std::string error;
    return emu::detail::san::release(p, error) ? 0 : emu::fail(error);
}

// ---- modules ---------------------------------------------------------------------------------------
/// Loads a module built by sara_emu_module.cmake; its kernels override the library's of the same name until
/// sara_emu_unload_module. Returns a handle, or NULL (see sara_emu_last_error).
SARA_EMU_API void* sara_emu_load_module(const char* path)
{
    if (!path) { emu::fail("sara_emu_load_module: path is NULL"); return nullptr; }
    std::lock_guard load_lock(emu::g_schedule_mutex); // one load at a time (g_loading_module)
    const int id = emu::g_next_module++;
    emu::g_loading_module = id;
    emu::detail::san::set_loading_module(id);
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    emu::detail::san::set_loading_module(0);
    emu::g_loading_module = 0;
    if (!h)
    {
        const char* why = dlerror();
        emu::fail(std::string("sara_emu_load_module: ") + (why ? why : path));
        return nullptr;
    }
    return new emu::Module{id, h};
}

SARA_EMU_API int sara_emu_unload_module(void* module)
{
    auto* m = static_cast<emu::Module*>(module);
    if (!m) return emu::fail("sara_emu_unload_module: module is NULL");
    {
        std::lock_guard lk(emu::table_mutex());
        auto& t = emu::table();
        for (auto it = t.begin(); it != t.end();)
            it = (*it)->module == m->id ? t.erase(it) : it + 1;
    }
    emu::detail::san::forget_module(m->id);
    dlclose(m->handle);
    delete m;
    return 0;
}
