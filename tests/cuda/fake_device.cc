#include "tests/cuda/fake_device.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/reduce.h"
#include "railcc/status.hpp"

namespace railcc::test {
namespace {

using cuda::EventHandle;
using cuda::IpcHandle;
using cuda::PointerInfo;
using cuda::StreamHandle;

class Stream {
 public:
  Stream() : thread_([this] { loop(); }) {}
  ~Stream() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void push(std::function<void()> fn) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_all();
  }

 private:
  void loop() {
    while (true) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

struct Event {
  std::atomic<uint64_t> recorded{0};
  std::atomic<uint64_t> completed{0};
};

struct Allocation {
  std::size_t bytes = 0;
  std::string name;  // shm name (own allocations) or "" (a peer's mapping)
};

void spin_until(const std::function<bool()>& ready) {
  int polls = 0;
  while (!ready()) {
    if (++polls < 100) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
}

class FakeDeviceImpl final : public FakeDevice {
 public:
  explicit FakeDeviceImpl(FakeDeviceOptions o) : options_(o) {}

  const char* name() const override { return "fake"; }
  int device_count() override { return 1; }

  PointerInfo classify(const void* p) override {
    std::lock_guard lock(mutex_);
    auto* b = const_cast<std::byte*>(static_cast<const std::byte*>(p));
    auto it = allocations_.upper_bound(b);
    if (it == allocations_.begin()) return {};
    --it;
    if (b >= it->first && b < it->first + it->second.bytes) return {true, 0};
    return {};
  }
  int current_device() override { return device_; }
  void set_device(int ordinal) override {
    if (ordinal != 0)
      throw InvalidArgumentError(fmt::format("fake device {} does not exist", ordinal));
    device_ = ordinal;
  }
  std::string device_uuid(int ordinal) override { return fmt::format("FAKE-GPU-{}", ordinal); }

  StreamHandle create_stream() override { return new Stream; }
  void destroy_stream(StreamHandle s) override { delete static_cast<Stream*>(s); }
  EventHandle create_event() override { return new Event; }
  void destroy_event(EventHandle e) override {
    // A real event may be destroyed with work pending; here the stream still references it, so
    // keep it until that work ran.
    Event* ev = static_cast<Event*>(e);
    const uint64_t target = ev->recorded.load();
    if (ev->completed.load() >= target) {
      delete ev;
    } else {
      std::lock_guard lock(mutex_);
      graveyard_.push_back(ev);
    }
  }
  void record(EventHandle e, StreamHandle s) override {
    Event* ev = static_cast<Event*>(e);
    const uint64_t n = ev->recorded.fetch_add(1) + 1;
    push(
        s, [ev, n] { ev->completed.store(n); }, false);
  }
  bool query(EventHandle e) override {
    Event* ev = static_cast<Event*>(e);
    return ev->completed.load() >= ev->recorded.load();
  }
  void stream_wait_event(StreamHandle s, EventHandle e) override {
    Event* ev = static_cast<Event*>(e);
    const uint64_t target = ev->recorded.load();
    push(
        s, [ev, target] { spin_until([&] { return ev->completed.load() >= target; }); }, false);
  }

  void* alloc_device(std::size_t bytes) override {
    const std::size_t size = std::max<std::size_t>(bytes, 1);
    const std::string name =
        fmt::format("/railcc-fakegpu-{}-{}", ::getpid(), next_id_.fetch_add(1));
    const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0)
      throw SystemError(fmt::format("fake device: shm_open {}: {}", name, std::strerror(errno)));
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      ::close(fd);
      ::shm_unlink(name.c_str());
      throw SystemError("fake device: ftruncate failed");
    }
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) {
      ::shm_unlink(name.c_str());
      throw SystemError("fake device: mmap failed");
    }
    std::lock_guard lock(mutex_);
    allocations_[static_cast<std::byte*>(p)] = {size, name};
    return p;
  }
  void free_device(void* p) override {
    if (!p) return;
    Allocation a;
    {
      std::lock_guard lock(mutex_);
      auto it = allocations_.find(static_cast<std::byte*>(p));
      if (it == allocations_.end()) return;
      a = it->second;
      allocations_.erase(it);
    }
    ::munmap(p, a.bytes);
    if (!a.name.empty()) ::shm_unlink(a.name.c_str());
  }
  void* alloc_host(std::size_t bytes) override {
    const std::size_t size = (std::max<std::size_t>(bytes, 1) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, size);
    if (!p) throw SystemError("fake device: out of host memory");
    return p;
  }
  void free_host(void* p) override { std::free(p); }

  void copy_async(void* dst, const void* src, std::size_t bytes, StreamHandle s) override {
    if (bytes == 0) return;
    push(
        s, [dst, src, bytes] { std::memmove(dst, src, bytes); }, true);
  }
  void copy(void* dst, const void* src, std::size_t bytes) override {
    copy_async(dst, src, bytes, nullptr);
    synchronize(nullptr);
  }
  void synchronize(StreamHandle s) override {
    std::atomic<bool> done{false};
    push(
        s, [&done] { done.store(true); }, false);
    spin_until([&] { return done.load(); });
  }

  void reduce(void* dst, const void* const* inputs, int n, std::size_t count, DataType type,
              ReduceOp op, StreamHandle s) override {
    if (count == 0) return;
    std::vector<const void*> in(inputs, inputs + n);
    push(
        s,
        [dst, in = std::move(in), count, type, op] {
          // Into a temporary first: dst may alias any input.
          const std::size_t bytes = count * data_type_size(type);
          std::vector<std::byte> acc(bytes);
          std::memcpy(acc.data(), in[0], bytes);
          for (std::size_t k = 1; k < in.size(); ++k) {
            kernels::reduce(acc.data(), acc.data(), in[k], count, type, op);
          }
          std::memcpy(dst, acc.data(), bytes);
        },
        true);
  }
  void divide(void* dst, const void* src, std::size_t count, DataType type, uint64_t divisor,
              StreamHandle s) override {
    if (count == 0) return;
    push(
        s, [=] { kernels::divide(dst, src, count, type, divisor); }, true);
  }

  void wait_flag(StreamHandle s, const uint32_t* flag, uint32_t value) override {
    auto* word = const_cast<uint32_t*>(flag);
    push(
        s,
        [word, value] {
          spin_until([&] {
            const uint32_t v = std::atomic_ref<uint32_t>(*word).load(std::memory_order_acquire);
            return static_cast<int32_t>(v - value) >= 0;
          });
        },
        false);
  }

  IpcHandle ipc_export(void* base) override {
    std::lock_guard lock(mutex_);
    auto it = allocations_.find(static_cast<std::byte*>(base));
    if (it == allocations_.end() || it->second.name.empty()) {
      throw InvalidArgumentError(
          "fake device: ipc_export of memory that is not an allocation base");
    }
    IpcHandle h;
    const std::string text = fmt::format("{}:{}", it->second.bytes, it->second.name);
    std::memcpy(h.bytes.data(), text.data(), std::min(text.size(), h.bytes.size() - 1));
    return h;
  }
  void* ipc_open(const IpcHandle& handle) override {
    const std::string text(reinterpret_cast<const char*>(handle.bytes.data()));
    const auto colon = text.find(':');
    if (colon == std::string::npos) return nullptr;
    const std::size_t bytes = std::stoull(text.substr(0, colon));
    const std::string name = text.substr(colon + 1);
    if (refuse_ipc_) return nullptr;
    const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
    if (fd < 0) return nullptr;
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) return nullptr;
    std::lock_guard lock(mutex_);
    allocations_[static_cast<std::byte*>(p)] = {bytes, ""};
    return p;
  }
  void ipc_close(void* mapped) override { free_device(mapped); }

  void enqueue(StreamHandle s, std::function<void()> fn) override { push(s, std::move(fn), false); }
  uint64_t executed() const override { return executed_.load(); }

  void set_refuse_ipc(bool refuse) override { refuse_ipc_ = refuse; }

 private:
  Stream& stream(StreamHandle s) {
    if (s) return *static_cast<Stream*>(s);
    std::call_once(default_once_, [this] { default_stream_ = std::make_unique<Stream>(); });
    return *default_stream_;
  }
  void push(StreamHandle s, std::function<void()> fn, bool delayed) {
    const auto delay = delayed ? options_.op_delay : std::chrono::microseconds(0);
    stream(s).push([this, fn = std::move(fn), delay] {
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      fn();
      executed_.fetch_add(1);
    });
  }

  FakeDeviceOptions options_;
  std::mutex mutex_;
  std::map<std::byte*, Allocation> allocations_;
  std::vector<Event*> graveyard_;
  std::atomic<uint64_t> next_id_{0};
  std::atomic<uint64_t> executed_{0};
  std::once_flag default_once_;
  std::unique_ptr<Stream> default_stream_;
  bool refuse_ipc_ = false;
  static thread_local int device_;
};

thread_local int FakeDeviceImpl::device_ = 0;

}  // namespace

FakeDevice& FakeDevice::install(FakeDeviceOptions options) {
  auto api = std::make_unique<FakeDeviceImpl>(options);
  FakeDevice& ref = *api;
  cuda::install_device_api(std::move(api));
  return ref;
}

}  // namespace railcc::test
