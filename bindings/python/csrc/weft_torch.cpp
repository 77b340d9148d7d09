// weft.torch: a torch.distributed backend (c10d::ProcessGroup) over libweft.
//
// One translation unit on purpose: libtorch's headers are slow and heavy to
// compile. The Python side (weft/torch.py) registers it as backend "weft".
//
// Every operation is enqueued on a weft host stream of its own and returns at
// once: the communicator's progress thread runs the operations one at a time,
// in issue order (docs/api.md, "Host streams"), so the calling thread never
// blocks before wait(), and DDP's buckets overlap with the backward pass. A
// stream per operation gives each Work its own completion (weftStreamQuery /
// weftStreamSynchronize); idle streams are pooled. Futures (getFuture, which
// DDP's reducer uses) are completed by a watcher thread that starts with the
// first future asked for.
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/utils/pybind.h>
#include <pybind11/chrono.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "weft.h"

namespace weft_torch {

using c10d::ReduceOp;
using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what, weftResult_t r, const char* msg) {
  std::string text = "weft " + what + ": " + weftGetErrorString(r);
  if (msg && *msg) text += ": " + std::string(msg);
  throw std::runtime_error(text);
}

weftDataType_t weft_dtype(const at::Tensor& t, const char* what) {
  switch (t.scalar_type()) {
    case at::kChar: return weftInt8;
    case at::kByte: return weftUint8;
    case at::kInt: return weftInt32;
    case at::kLong: return weftInt64;
    case at::kHalf: return weftFloat16;
    case at::kFloat: return weftFloat32;
    case at::kDouble: return weftFloat64;
    case at::kBFloat16: return weftBfloat16;
    default:
      throw std::runtime_error(std::string("weft ") + what + ": tensors of dtype " +
                               c10::toString(t.scalar_type()) +
                               " are not supported (weft has int8, uint8, int32, int64, float16, "
                               "bfloat16, float32, float64)");
  }
}

weftRedOp_t weft_op(const ReduceOp& op, const char* what) {
  switch (op.op_) {
    case ReduceOp::SUM: return weftSum;
    case ReduceOp::PRODUCT: return weftProd;
    case ReduceOp::MIN: return weftMin;
    case ReduceOp::MAX: return weftMax;
    case ReduceOp::AVG: return weftAvg;
    default:
      throw std::runtime_error(std::string("weft ") + what +
                               ": reduce op not supported (weft has SUM, PRODUCT, MIN, MAX, AVG)");
  }
}

void check_cpu(const at::Tensor& t, const char* what) {
  if (!t.device().is_cpu())
    throw std::runtime_error(std::string("weft ") + what + ": only CPU tensors are supported, got one on " +
                             t.device().str());
  if (t.is_sparse()) throw std::runtime_error(std::string("weft ") + what + ": sparse tensors are not supported");
}

// Releases the GIL, if this thread holds it, for a wait that other threads
// may need it to end: the watcher thread can drop the last reference to a
// tensor that Python created, which takes the GIL.
class NoGil {
 public:
  NoGil() {
    if (Py_IsInitialized() && PyGILState_Check()) state_ = PyEval_SaveThread();
  }
  ~NoGil() {
    if (state_) PyEval_RestoreThread(state_);
  }
  NoGil(const NoGil&) = delete;
  NoGil& operator=(const NoGil&) = delete;

 private:
  PyThreadState* state_ = nullptr;
};

const at::Tensor& one_tensor(const std::vector<at::Tensor>& v, const char* what) {
  if (v.size() != 1)
    throw std::runtime_error(std::string("weft ") + what + ": expects one tensor per call, got " +
                             std::to_string(v.size()));
  check_cpu(v[0], what);
  return v[0];
}

// Idle error-free weft streams, shared by the process group and its Works
// (a Work may outlive the group).
class StreamPool {
 public:
  ~StreamPool() {
    for (weftStream_t s : idle_) weftStreamDestroy(s);
  }
  weftStream_t take() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!idle_.empty()) {
        weftStream_t s = idle_.back();
        idle_.pop_back();
        return s;
      }
    }
    weftStream_t s = nullptr;
    weftResult_t r = weftStreamCreate(&s);
    if (r != weftSuccess) fail("weftStreamCreate", r, weftGetLastError(nullptr));
    return s;
  }
  // A stream that saw an error stays in error: it is destroyed, not kept.
  void give(weftStream_t s, bool clean) {
    if (clean) {
      std::lock_guard<std::mutex> lk(mu_);
      if (idle_.size() < 64) {
        idle_.push_back(s);
        return;
      }
    }
    weftStreamDestroy(s);
  }

 private:
  std::mutex mu_;
  std::vector<weftStream_t> idle_;
};

class WorkWeft : public c10d::Work {
 public:
  WorkWeft(int rank, c10d::OpType type, std::string what, std::shared_ptr<StreamPool> pool, weftStream_t stream,
           std::vector<at::Tensor> outputs, std::vector<at::Tensor> keep, std::function<void()> post,
           std::shared_ptr<std::atomic<int>> inflight)
      : Work(rank, type),
        what_(std::move(what)),
        pool_(std::move(pool)),
        stream_(stream),
        outputs_(std::move(outputs)),
        keep_(std::move(keep)),
        post_(std::move(post)),
        inflight_(std::move(inflight)) {
    if (!stream_) settle(weftSuccess, nullptr);  // already done (run inline)
  }

  ~WorkWeft() override {
    // Dropped before completion: the stream (and the buffers, held here) must
    // live until the operation is done.
    if (!settled_.load()) {
      NoGil nogil;
      wait_stream();
    }
    // Only now, when no thread can be waiting on it, may another op reuse it.
    if (stream_) pool_->give(stream_, clean_);
  }

  bool isCompleted() override {
    if (settled_.load()) return true;
    weftResult_t q = weftStreamQuery(stream_);
    if (q == weftInProgress) return false;
    wait_stream();  // done: returns at once, and fetches an error's message
    return true;
  }

  bool isSuccess() const override {
    std::lock_guard<std::mutex> lk(mutex_);
    return completed_ && !exception_;
  }

  bool wait(std::chrono::milliseconds timeout) override {
    if (!settled_.load()) {
      if (timeout > std::chrono::milliseconds(0)) {
        auto deadline = Clock::now() + timeout;
        auto nap = std::chrono::microseconds(20);
        while (weftStreamQuery(stream_) == weftInProgress) {
          if (Clock::now() >= deadline)
            throw std::runtime_error("weft " + what_ + ": Work.wait timed out after " +
                                     std::to_string(timeout.count()) + " ms");
          std::this_thread::sleep_for(nap);
          if (nap < std::chrono::microseconds(2000)) nap *= 2;
        }
      }
      wait_stream();
    }
    std::lock_guard<std::mutex> lk(mutex_);
    if (exception_) std::rethrow_exception(exception_);
    return true;
  }

  std::vector<at::Tensor> result() override { return outputs_; }

  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override;

  // The watcher thread's part: waits, settles.
  void wait_stream() {
    if (settled_.load()) return;
    weftResult_t r = weftStreamSynchronize(stream_);
    std::string msg = r == weftSuccess ? "" : weftGetLastError(nullptr);
    settle(r, msg.c_str());
  }

  bool settled() const { return settled_.load(); }

 private:
  friend class ProcessGroupWeft;
  void settle(weftResult_t r, const char* msg) {
    c10::intrusive_ptr<c10::ivalue::Future> fut;
    std::exception_ptr ex;
    {
      std::lock_guard<std::mutex> lk(settle_mu_);
      if (settled_.load()) return;
      if (r != weftSuccess) {
        ex = std::make_exception_ptr(std::runtime_error("weft " + what_ + ": " + weftGetErrorString(r) +
                                                        (msg && *msg ? std::string(": ") + msg : "")));
      } else if (post_) {
        try {
          post_();
        } catch (...) {
          ex = std::current_exception();
        }
      }
      clean_ = r == weftSuccess;
      post_ = nullptr;
      if (inflight_) inflight_->fetch_sub(1);
      keep_.clear();
      finish(ex);
      fut = future_;
      settled_.store(true);
    }
    if (fut) {
      if (ex) fut->setError(ex);
      else fut->markCompleted(c10::IValue(outputs_));
    }
  }

  std::string what_;
  std::shared_ptr<StreamPool> pool_;
  weftStream_t stream_;  // this Work's until it is destroyed
  bool clean_ = true;    // the stream saw no error, so it may be reused
  std::vector<at::Tensor> outputs_;
  std::vector<at::Tensor> keep_;  // inputs and staging the operation reads or writes
  std::function<void()> post_;    // copies results out of staging, once, on success
  std::shared_ptr<std::atomic<int>> inflight_;  // the group's count of pending operations
  std::mutex settle_mu_;
  std::atomic<bool> settled_{false};
  c10::intrusive_ptr<c10::ivalue::Future> future_;
  std::function<void(c10::intrusive_ptr<WorkWeft>)> watch_;  // hands this Work to the watcher
};

// Completes the futures of Works in issue order (the communicator completes
// its operations in that order, so waiting on the oldest never holds up a
// later one).
class Watcher {
 public:
  ~Watcher() {
    NoGil nogil;  // the thread may need it to drop its last Work
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void add(c10::intrusive_ptr<WorkWeft> w) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
      queue_.push_back(std::move(w));
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and nothing left
      c10::intrusive_ptr<WorkWeft> w = std::move(queue_.front());
      queue_.pop_front();
      lk.unlock();
      w->wait_stream();
      w.reset();
      lk.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<c10::intrusive_ptr<WorkWeft>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

c10::intrusive_ptr<c10::ivalue::Future> WorkWeft::getFuture() {
  std::unique_lock<std::mutex> lk(settle_mu_);
  if (future_) return future_;
  future_ = c10::make_intrusive<c10::ivalue::Future>(c10::ListType::create(c10::TensorType::get()));
  auto fut = future_;
  if (settled_.load()) {
    std::exception_ptr ex;
    {
      std::lock_guard<std::mutex> lk2(mutex_);
      ex = exception_;
    }
    lk.unlock();
    if (ex) fut->setError(ex);
    else fut->markCompleted(c10::IValue(outputs_));
    return fut;
  }
  lk.unlock();
  if (watch_) watch_(c10::intrusive_ptr<WorkWeft>::unsafe_reclaim_from_nonowning(this));
  return fut;
}

struct Config {
  std::string net, algo, site, topo_file, codec;
  int log_level = WEFT_CONFIG_UNDEF_INT;
  long long inline_bytes = 0;
};

class ProcessGroupWeft : public c10d::ProcessGroup {
 public:
  ProcessGroupWeft(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                   std::chrono::milliseconds timeout, const Config& cfg)
      : ProcessGroup(rank, size), pool_(std::make_shared<StreamPool>()), watcher_(std::make_shared<Watcher>()) {
    // The unique id travels through the store c10d handed us (its prefix
    // makes the key this group's own).
    static const char* key = "weft_unique_id";
    weftUniqueId id;
    if (rank == 0) {
      weftResult_t r = weftGetUniqueId(&id);
      if (r != weftSuccess) fail("weftGetUniqueId", r, weftGetLastError(nullptr));
      std::vector<uint8_t> bytes(id.internal, id.internal + sizeof id.internal);
      store->set(key, bytes);
    } else {
      std::vector<uint8_t> bytes = store->get(key);
      if (bytes.size() != sizeof id.internal)
        throw std::runtime_error("weft: the store's " + std::string(key) + " has " + std::to_string(bytes.size()) +
                                 " bytes, not " + std::to_string(sizeof id.internal));
      std::copy(bytes.begin(), bytes.end(), id.internal);
    }
    weftConfig_t c = WEFT_CONFIG_INITIALIZER;
    long long ms = timeout.count();
    c.timeoutMs = ms > 0 && ms < 2000000000LL ? (int)ms : WEFT_CONFIG_UNDEF_INT;
    if (!cfg.net.empty()) c.netName = cfg.net.c_str();
    if (!cfg.algo.empty()) c.algo = cfg.algo.c_str();
    if (!cfg.site.empty()) c.siteName = cfg.site.c_str();
    if (!cfg.topo_file.empty()) c.topoFile = cfg.topo_file.c_str();
    if (!cfg.codec.empty()) c.codec = cfg.codec.c_str();
    c.logLevel = cfg.log_level;
    inline_bytes_ = cfg.inline_bytes > 0 ? (size_t)cfg.inline_bytes : 0;
    weftResult_t r;
    {
      pybind11::gil_scoped_release nogil;  // other Python threads run during the rendezvous
      r = weftCommInitRankConfig(&comm_, size, id, rank, &c);
    }
    if (r != weftSuccess) {
      comm_ = nullptr;
      fail("weftCommInitRankConfig", r, weftGetLastError(nullptr));
    }
  }

  ~ProcessGroupWeft() override {
    NoGil nogil;  // the watcher may need it to finish
    if (comm_) {
      weftResult_t err = weftSuccess;
      weftCommGetAsyncError(comm_, &err);
      // A broken communicator is aborted, so that nothing waits for a dead peer.
      if (err != weftSuccess) weftCommAbort(comm_);
      else weftCommDestroy(comm_);
      comm_ = nullptr;
    }
    watcher_.reset();  // joins its thread (if this was the last reference)
  }

  const std::string getBackendName() const override { return "weft"; }

  uintptr_t handle() const { return reinterpret_cast<uintptr_t>(comm_); }

  void abort() {
    std::lock_guard<std::mutex> lk(call_mu_);
    if (comm_) weftCommAbort(comm_);
    comm_ = nullptr;
  }

  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& tensors,
                                           const c10d::AllreduceOptions& opts) override {
    const char* what = "allreduce";
    at::Tensor t = one_tensor(tensors, what);
    weftDataType_t dt = weft_dtype(t, what);
    weftRedOp_t op = weft_op(opts.reduceOp, what);
    Staged s = stage_inout(t);
    return launch(c10d::OpType::ALLREDUCE, what, {t}, s, [&](weftStream_t st) {
      return weftAllReduce(s.buf.data_ptr(), s.buf.data_ptr(), (size_t)s.buf.numel(), dt, op, comm_, st);
    });
  }

  c10::intrusive_ptr<c10d::Work> allreduce_coalesced(std::vector<at::Tensor>& tensors,
                                                     const c10d::AllreduceCoalescedOptions& opts) override {
    const char* what = "allreduce_coalesced";
    if (tensors.empty()) throw std::runtime_error("weft allreduce_coalesced: no tensors");
    for (auto& t : tensors) {
      check_cpu(t, what);
      if (t.scalar_type() != tensors[0].scalar_type())
        throw std::runtime_error("weft allreduce_coalesced: tensors of different dtypes");
    }
    weftDataType_t dt = weft_dtype(tensors[0], what);
    weftRedOp_t op = weft_op(opts.reduceOp, what);
    std::vector<at::Tensor> flat_in;
    for (auto& t : tensors) flat_in.push_back(t.reshape({-1}));
    at::Tensor flat = at::cat(flat_in);
    std::vector<at::Tensor> outs = tensors;
    auto post = [flat, outs]() mutable {
      int64_t off = 0;
      for (auto& t : outs) {
        t.copy_(flat.narrow(0, off, t.numel()).view(t.sizes()));
        off += t.numel();
      }
    };
    return launch_staged(c10d::OpType::ALLREDUCE_COALESCED, what, outs, {flat}, post, [&](weftStream_t st) {
      return weftAllReduce(flat.data_ptr(), flat.data_ptr(), (size_t)flat.numel(), dt, op, comm_, st);
    });
  }

  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& tensors,
                                           const c10d::BroadcastOptions& opts) override {
    const char* what = "broadcast";
    at::Tensor t = one_tensor(tensors, what);
    weftDataType_t dt = weft_dtype(t, what);
    int root = check_rank(opts.rootRank, what, "root");
    Staged s = stage_inout(t);
    return launch(c10d::OpType::BROADCAST, what, {t}, s, [&](weftStream_t st) {
      return weftBroadcast(s.buf.data_ptr(), s.buf.data_ptr(), (size_t)s.buf.numel(), dt, root, comm_, st);
    });
  }

  c10::intrusive_ptr<c10d::Work> reduce(std::vector<at::Tensor>& tensors, const c10d::ReduceOptions& opts) override {
    const char* what = "reduce";
    at::Tensor t = one_tensor(tensors, what);
    weftDataType_t dt = weft_dtype(t, what);
    weftRedOp_t op = weft_op(opts.reduceOp, what);
    int root = check_rank(opts.rootRank, what, "root");
    Staged s = stage_inout(t);
    bool at_root = root == getRank();
    return launch(c10d::OpType::REDUCE, what, {t}, s, [&](weftStream_t st) {
      return weftReduce(s.buf.data_ptr(), at_root ? s.buf.data_ptr() : nullptr, (size_t)s.buf.numel(), dt, op,
                        root, comm_, st);
    });
  }

  c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& outputs,
                                           std::vector<at::Tensor>& inputs,
                                           const c10d::AllgatherOptions& /*opts*/) override {
    const char* what = "allgather";
    at::Tensor in = one_tensor(inputs, what);
    if (outputs.size() != 1) throw std::runtime_error("weft allgather: expects one list of output tensors");
    std::vector<at::Tensor>& outs = outputs[0];
    check_list(outs, in, what, "output");
    weftDataType_t dt = weft_dtype(in, what);
    at::Tensor src = in.contiguous();
    // Outputs that are consecutive slices of one buffer (torch.chunk of a
    // flat tensor) are written in place; otherwise through a staging buffer.
    if (at::Tensor whole = consecutive(outs); whole.defined()) {
      return launch_staged(c10d::OpType::ALLGATHER, what, outs, {src, whole}, nullptr, [&](weftStream_t st) {
        return weftAllGather(src.data_ptr(), whole.data_ptr(), (size_t)src.numel(), dt, comm_, st);
      });
    }
    at::Tensor flat = at::empty({(int64_t)getSize() * src.numel()}, src.options());
    auto post = [flat, outs]() mutable {
      int64_t n = outs[0].numel();
      for (size_t i = 0; i < outs.size(); i++) outs[i].copy_(flat.narrow(0, (int64_t)i * n, n).view(outs[i].sizes()));
    };
    return launch_staged(c10d::OpType::ALLGATHER, what, outs, {src, flat}, post, [&](weftStream_t st) {
      return weftAllGather(src.data_ptr(), flat.data_ptr(), (size_t)src.numel(), dt, comm_, st);
    });
  }

  c10::intrusive_ptr<c10d::Work> _allgather_base(at::Tensor& output, at::Tensor& input,
                                                 const c10d::AllgatherOptions& /*opts*/) override {
    const char* what = "all_gather_into_tensor";
    check_cpu(output, what);
    check_cpu(input, what);
    same_dtype(output, input, what);
    if (output.numel() != input.numel() * getSize())
      throw std::runtime_error(sizes_msg(what, "output", output.numel(), "input", input.numel()));
    weftDataType_t dt = weft_dtype(input, what);
    at::Tensor src = input.contiguous();
    Staged s = stage_out(output);
    return launch(c10d::OpType::_ALLGATHER_BASE, what, {output}, s, [&](weftStream_t st) {
      return weftAllGather(src.data_ptr(), s.buf.data_ptr(), (size_t)src.numel(), dt, comm_, st);
    }, src);
  }

  c10::intrusive_ptr<c10d::Work> reduce_scatter(std::vector<at::Tensor>& outputs,
                                                std::vector<std::vector<at::Tensor>>& inputs,
                                                const c10d::ReduceScatterOptions& opts) override {
    const char* what = "reduce_scatter";
    at::Tensor out = one_tensor(outputs, what);
    if (inputs.size() != 1) throw std::runtime_error("weft reduce_scatter: expects one list of input tensors");
    std::vector<at::Tensor>& ins = inputs[0];
    check_list(ins, out, what, "input");
    weftDataType_t dt = weft_dtype(out, what);
    weftRedOp_t op = weft_op(opts.reduceOp, what);
    at::Tensor whole = consecutive(ins);
    at::Tensor src = whole.defined() ? whole : at::cat(flatten_all(ins));
    Staged s = stage_out(out);
    return launch(c10d::OpType::REDUCE_SCATTER, what, {out}, s, [&](weftStream_t st) {
      return weftReduceScatter(src.data_ptr(), s.buf.data_ptr(), (size_t)s.buf.numel(), dt, op, comm_, st);
    }, src);
  }

  c10::intrusive_ptr<c10d::Work> _reduce_scatter_base(at::Tensor& output, at::Tensor& input,
                                                      const c10d::ReduceScatterOptions& opts) override {
    const char* what = "reduce_scatter_tensor";
    check_cpu(output, what);
    check_cpu(input, what);
    same_dtype(output, input, what);
    if (input.numel() != output.numel() * getSize())
      throw std::runtime_error(sizes_msg(what, "input", input.numel(), "output", output.numel()));
    weftDataType_t dt = weft_dtype(output, what);
    weftRedOp_t op = weft_op(opts.reduceOp, what);
    at::Tensor src = input.contiguous();
    Staged s = stage_out(output);
    return launch(c10d::OpType::_REDUCE_SCATTER_BASE, what, {output}, s, [&](weftStream_t st) {
      return weftReduceScatter(src.data_ptr(), s.buf.data_ptr(), (size_t)s.buf.numel(), dt, op, comm_, st);
    }, src);
  }

  c10::intrusive_ptr<c10d::Work> alltoall_base(at::Tensor& output, at::Tensor& input,
                                               std::vector<int64_t>& outSplits, std::vector<int64_t>& inSplits,
                                               const c10d::AllToAllOptions& /*opts*/) override {
    const char* what = "all_to_all_single";
    check_cpu(output, what);
    check_cpu(input, what);
    same_dtype(output, input, what);
    weftDataType_t dt = weft_dtype(input, what);
    int n = getSize();
    if (input.dim() == 0 || output.dim() == 0) throw std::runtime_error("weft all_to_all_single: 0-d tensors");
    int64_t in_row = input.numel() / std::max<int64_t>(input.size(0), 1);
    int64_t out_row = output.numel() / std::max<int64_t>(output.size(0), 1);
    std::vector<int64_t> in_counts = split_counts(inSplits, input, what, "input"),
                         out_counts = split_counts(outSplits, output, what, "output");
    for (int i = 0; i < n; i++) in_counts[i] *= in_row, out_counts[i] *= out_row;
    at::Tensor src = input.contiguous();
    Staged s = stage_out(output);
    bool equal = true;
    for (int i = 0; i < n; i++) equal = equal && in_counts[i] == in_counts[0] && out_counts[i] == in_counts[0];
    if (equal) {
      return launch(c10d::OpType::ALLTOALL_BASE, what, {output}, s, [&](weftStream_t st) {
        return weftAllToAll(src.data_ptr(), s.buf.data_ptr(), (size_t)in_counts[0], dt, comm_, st);
      }, src);
    }
    size_t es = input.element_size();
    return launch(c10d::OpType::ALLTOALL_BASE, what, {output}, s, [&](weftStream_t st) {
      return grouped_p2p(n, dt, st, [&](int peer, const void*& sb, size_t& sc, void*& rb, size_t& rc) {
        int64_t so = 0, ro = 0;
        for (int i = 0; i < peer; i++) so += in_counts[i], ro += out_counts[i];
        sb = (const char*)src.data_ptr() + so * es;
        sc = (size_t)in_counts[peer];
        rb = (char*)s.buf.data_ptr() + ro * es;
        rc = (size_t)out_counts[peer];
      });
    }, src);
  }

  c10::intrusive_ptr<c10d::Work> alltoall(std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
                                          const c10d::AllToAllOptions& /*opts*/) override {
    const char* what = "all_to_all";
    int n = getSize();
    if ((int)outputs.size() != n || (int)inputs.size() != n)
      throw std::runtime_error("weft all_to_all: expects " + std::to_string(n) + " input and output tensors, got " +
                               std::to_string(inputs.size()) + " and " + std::to_string(outputs.size()));
    std::vector<at::Tensor> srcs, dsts;
    for (int i = 0; i < n; i++) {
      check_cpu(inputs[i], what);
      check_cpu(outputs[i], what);
      same_dtype(outputs[i], inputs[0], what);
      same_dtype(inputs[i], inputs[0], what);
      srcs.push_back(inputs[i].contiguous());
      dsts.push_back(outputs[i].is_contiguous() ? outputs[i] : at::empty_like(outputs[i], at::MemoryFormat::Contiguous));
    }
    weftDataType_t dt = weft_dtype(inputs[0], what);
    std::vector<at::Tensor> outs = outputs;
    auto post = [dsts, outs]() mutable {
      for (size_t i = 0; i < outs.size(); i++)
        if (!dsts[i].is_same(outs[i])) outs[i].copy_(dsts[i]);
    };
    std::vector<at::Tensor> keep = srcs;
    keep.insert(keep.end(), dsts.begin(), dsts.end());
    return launch_staged(c10d::OpType::ALLTOALL, what, outs, keep, post, [&](weftStream_t st) {
      return grouped_p2p(n, dt, st, [&](int peer, const void*& sb, size_t& sc, void*& rb, size_t& rc) {
        sb = srcs[peer].data_ptr();
        sc = (size_t)srcs[peer].numel();
        rb = dsts[peer].data_ptr();
        rc = (size_t)dsts[peer].numel();
      });
    });
  }

  c10::intrusive_ptr<c10d::Work> gather(std::vector<std::vector<at::Tensor>>& outputs,
                                        std::vector<at::Tensor>& inputs, const c10d::GatherOptions& opts) override {
    const char* what = "gather";
    at::Tensor in = one_tensor(inputs, what);
    int root = check_rank(opts.rootRank, what, "root");
    bool at_root = root == getRank();
    std::vector<at::Tensor> outs;
    if (at_root) {
      if (outputs.size() != 1) throw std::runtime_error("weft gather: expects one list of output tensors on the root");
      outs = outputs[0];
      check_list(outs, in, what, "output");
    } else if (!outputs.empty() && !outputs[0].empty()) {
      throw std::runtime_error("weft gather: only the root passes output tensors");
    }
    return p2p_lists(c10d::OpType::GATHER, what, {in.contiguous()}, outs, weft_dtype(in, what),
                     [&](int peer, bool& send, int& sidx, bool& recv, int& ridx) {
                       send = peer == root, sidx = 0;
                       recv = at_root, ridx = peer;
                     });
  }

  c10::intrusive_ptr<c10d::Work> scatter(std::vector<at::Tensor>& outputs,
                                         std::vector<std::vector<at::Tensor>>& inputs,
                                         const c10d::ScatterOptions& opts) override {
    const char* what = "scatter";
    at::Tensor out = one_tensor(outputs, what);
    int root = check_rank(opts.rootRank, what, "root");
    bool at_root = root == getRank();
    std::vector<at::Tensor> ins;
    if (at_root) {
      if (inputs.size() != 1) throw std::runtime_error("weft scatter: expects one list of input tensors on the root");
      check_list(inputs[0], out, what, "input");
      for (auto& t : inputs[0]) ins.push_back(t.contiguous());
    } else if (!inputs.empty() && !inputs[0].empty()) {
      throw std::runtime_error("weft scatter: only the root passes input tensors");
    }
    return p2p_lists(c10d::OpType::SCATTER, what, ins, {out}, weft_dtype(out, what),
                     [&](int peer, bool& send, int& sidx, bool& recv, int& ridx) {
                       send = at_root, sidx = peer;
                       recv = peer == root, ridx = 0;
                     });
  }

  c10::intrusive_ptr<c10d::Work> barrier(const c10d::BarrierOptions& /*opts*/) override {
    at::Tensor t = at::zeros({1}, at::kByte);
    return launch_staged(c10d::OpType::BARRIER, "barrier", {}, {t}, nullptr, [&](weftStream_t st) {
      return weftAllReduce(t.data_ptr(), t.data_ptr(), 1, weftUint8, weftMax, comm_, st);
    });
  }

  c10::intrusive_ptr<c10d::Work> send(std::vector<at::Tensor>& tensors, int dst, int /*tag*/) override {
    const char* what = "send";
    at::Tensor t = one_tensor(tensors, what);
    weftDataType_t dt = weft_dtype(t, what);
    int peer = check_rank(dst, what, "dst");
    at::Tensor src = t.contiguous();
    return launch_staged(c10d::OpType::SEND, what, {}, {src}, nullptr, [&](weftStream_t st) {
      return weftSend(src.data_ptr(), (size_t)src.numel(), dt, peer, comm_, st);
    });
  }

  c10::intrusive_ptr<c10d::Work> recv(std::vector<at::Tensor>& tensors, int src, int /*tag*/) override {
    const char* what = "recv";
    at::Tensor t = one_tensor(tensors, what);
    weftDataType_t dt = weft_dtype(t, what);
    int peer = check_rank(src, what, "src");
    Staged s = stage_out(t);
    return launch(c10d::OpType::RECV, what, {t}, s, [&](weftStream_t st) {
      return weftRecv(s.buf.data_ptr(), (size_t)s.buf.numel(), dt, peer, comm_, st);
    });
  }

 private:
  // The buffer weft works on: the tensor itself when it is contiguous, else a
  // contiguous copy whose result is copied back once the operation is done.
  struct Staged {
    at::Tensor buf;
    std::function<void()> post;
  };
  static Staged stage_inout(const at::Tensor& t) {
    if (t.is_contiguous()) return {t, nullptr};
    at::Tensor c = t.contiguous();
    at::Tensor dst = t;
    return {c, [c, dst]() mutable { dst.copy_(c); }};
  }
  static Staged stage_out(const at::Tensor& t) {
    if (t.is_contiguous()) return {t, nullptr};
    at::Tensor c = at::empty_like(t, at::MemoryFormat::Contiguous);
    at::Tensor dst = t;
    return {c, [c, dst]() mutable { dst.copy_(c); }};
  }

  // Slices that follow one another in one contiguous buffer: that buffer.
  static at::Tensor consecutive(const std::vector<at::Tensor>& ts) {
    if (ts.empty()) return {};
    const at::Tensor& a = ts[0];
    if (!a.is_contiguous()) return {};
    int64_t n = a.numel();
    size_t bytes = (size_t)n * a.element_size();
    const char* base = (const char*)a.data_ptr();
    for (size_t i = 0; i < ts.size(); i++) {
      const at::Tensor& t = ts[i];
      if (!t.is_contiguous() || t.numel() != n || (const char*)t.data_ptr() != base + i * bytes ||
          !t.storage().is_alias_of(a.storage()))
        return {};
    }
    const at::Storage& st = a.storage();
    size_t off = (size_t)(base - (const char*)st.data());
    if (off + ts.size() * bytes > st.nbytes()) return {};
    return at::empty({0}, a.options()).set_(st, (int64_t)(off / a.element_size()), {(int64_t)ts.size() * n}, {1});
  }

  static std::vector<at::Tensor> flatten_all(const std::vector<at::Tensor>& ts) {
    std::vector<at::Tensor> r;
    for (auto& t : ts) r.push_back(t.reshape({-1}));
    return r;
  }

  void check_list(const std::vector<at::Tensor>& list, const at::Tensor& one, const char* what,
                  const char* name) const {
    if ((int)list.size() != getSize())
      throw std::runtime_error(std::string("weft ") + what + ": the " + name + " list holds " +
                               std::to_string(list.size()) + " tensors, the group has " + std::to_string(getSize()) +
                               " ranks");
    for (auto& t : list) {
      check_cpu(t, what);
      same_dtype(t, one, what);
      if (t.numel() != one.numel())
        throw std::runtime_error(sizes_msg(what, name, t.numel(), "this rank's", one.numel()) +
                                 " (every tensor of the list must have as many elements)");
    }
  }

  static void same_dtype(const at::Tensor& a, const at::Tensor& b, const char* what) {
    if (a.scalar_type() != b.scalar_type())
      throw std::runtime_error(std::string("weft ") + what + ": tensors of different dtypes (" +
                               c10::toString(a.scalar_type()) + " and " + c10::toString(b.scalar_type()) + ")");
  }

  std::string sizes_msg(const char* what, const char* a, int64_t na, const char* b, int64_t nb) const {
    return std::string("weft ") + what + ": " + a + " has " + std::to_string(na) + " elements, " + b + " " +
           std::to_string(nb) + ", with " + std::to_string(getSize()) + " ranks";
  }

  int check_rank(int64_t r, const char* what, const char* name) const {
    if (r < 0 || r >= getSize())
      throw std::runtime_error(std::string("weft ") + what + ": " + name + " " + std::to_string(r) +
                               " is not a rank of the group (size " + std::to_string(getSize()) + ")");
    return (int)r;
  }

  std::vector<int64_t> split_counts(const std::vector<int64_t>& splits, const at::Tensor& t, const char* what,
                                    const char* name) const {
    int n = getSize();
    if (splits.empty()) {
      if (t.size(0) % n)
        throw std::runtime_error(std::string("weft ") + what + ": the " + name + "'s first dimension (" +
                                 std::to_string(t.size(0)) + ") does not divide by the group size " +
                                 std::to_string(n));
      return std::vector<int64_t>(n, t.size(0) / n);
    }
    int64_t sum = 0;
    for (int64_t v : splits) sum += v;
    if ((int)splits.size() != n || sum != t.size(0))
      throw std::runtime_error(std::string("weft ") + what + ": " + name + " split sizes do not cover the " + name +
                               "'s first dimension in " + std::to_string(n) + " parts");
    return splits;
  }

  // Sends and receives with every peer in one weft group (the list form of
  // all_to_all, and uneven splits).
  template <typename F>
  weftResult_t grouped_p2p(int n, weftDataType_t dt, weftStream_t st, F block) {
    weftResult_t r = weftGroupStart();
    if (r != weftSuccess) return r;
    for (int peer = 0; peer < n && r == weftSuccess; peer++) {
      const void* sb;
      void* rb;
      size_t sc, rc;
      block(peer, sb, sc, rb, rc);
      if (sc) r = weftSend(sb, sc, dt, peer, comm_, st);
      if (r == weftSuccess && rc) r = weftRecv(rb, rc, dt, peer, comm_, st);
    }
    weftResult_t e = weftGroupEnd();
    return r != weftSuccess ? r : e;
  }

  // gather and scatter: one group of sends (of contiguous srcs[sidx]) and
  // receives (into outs[ridx], staged when strided); pick(peer, ...) says
  // which happen with each peer.
  template <typename F>
  c10::intrusive_ptr<c10d::Work> p2p_lists(c10d::OpType type, const char* what, std::vector<at::Tensor> srcs,
                                           std::vector<at::Tensor> outs, weftDataType_t dt, F pick) {
    std::vector<at::Tensor> dsts;
    for (auto& t : outs) dsts.push_back(t.is_contiguous() ? t : at::empty_like(t, at::MemoryFormat::Contiguous));
    auto post = [dsts, outs]() mutable {
      for (size_t i = 0; i < outs.size(); i++)
        if (!dsts[i].is_same(outs[i])) outs[i].copy_(dsts[i]);
    };
    std::vector<at::Tensor> keep = srcs;
    keep.insert(keep.end(), dsts.begin(), dsts.end());
    return launch_staged(type, what, outs, keep, post, [&](weftStream_t st) {
      return grouped_p2p(getSize(), dt, st, [&](int peer, const void*& sb, size_t& sc, void*& rb, size_t& rc) {
        bool send = false, recv = false;
        int si = 0, ri = 0;
        pick(peer, send, si, recv, ri);
        sb = send ? srcs[si].data_ptr() : nullptr;
        sc = send ? (size_t)srcs[si].numel() : 0;
        rb = recv ? dsts[ri].data_ptr() : nullptr;
        rc = recv ? (size_t)dsts[ri].numel() : 0;
      });
    });
  }

  template <typename F>
  c10::intrusive_ptr<c10d::Work> launch(c10d::OpType type, const char* what, std::vector<at::Tensor> outputs,
                                        const Staged& s, F call, at::Tensor extra = at::Tensor()) {
    std::vector<at::Tensor> keep{s.buf};
    if (extra.defined()) keep.push_back(extra);
    return launch_staged(type, what, std::move(outputs), std::move(keep), s.post, call);
  }

  // Enqueues call on a stream of its own and returns its Work at once; or,
  // for a small collective while no earlier operation of the group is
  // pending (inline_bytes), runs it blocking on this thread and returns it
  // completed: two thread hand-offs less.
  template <typename F>
  c10::intrusive_ptr<c10d::Work> launch_staged(c10d::OpType type, const char* what, std::vector<at::Tensor> outputs,
                                               std::vector<at::Tensor> keep, std::function<void()> post, F call) {
    size_t bytes = 0;
    for (auto& t : keep) bytes += t.nbytes();
    bool inline_run = inline_bytes_ > 0 && bytes <= inline_bytes_ && type != c10d::OpType::SEND &&
                      type != c10d::OpType::RECV && inflight_->load() == 0;
    weftStream_t st = inline_run ? nullptr : pool_->take();
    weftResult_t r;
    std::string msg;
    {
      std::lock_guard<std::mutex> lk(call_mu_);  // a weft comm takes one thread's calls at a time
      if (!comm_) {
        if (st) pool_->give(st, true);
        throw std::runtime_error(std::string("weft ") + what + ": the process group was aborted");
      }
      r = call(st);
      if (r != weftSuccess) msg = weftGetLastError(comm_);
    }
    if (r != weftSuccess) {
      if (st) pool_->give(st, false);
      fail(what, r, msg.c_str());
    }
    if (st) inflight_->fetch_add(1);
    auto w = c10::make_intrusive<WorkWeft>(getRank(), type, what, pool_, st, std::move(outputs), std::move(keep),
                                           std::move(post), st ? inflight_ : nullptr);
    std::weak_ptr<Watcher> watcher = watcher_;
    w->watch_ = [watcher](c10::intrusive_ptr<WorkWeft> work) {
      if (auto wt = watcher.lock()) wt->add(std::move(work));
      else work->wait_stream();
    };
    return w;
  }

  weftComm_t comm_ = nullptr;
  size_t inline_bytes_ = 0;
  // queued operations whose Work has not seen them complete
  std::shared_ptr<std::atomic<int>> inflight_ = std::make_shared<std::atomic<int>>(0);
  std::mutex call_mu_;
  std::shared_ptr<StreamPool> pool_;
  std::shared_ptr<Watcher> watcher_;
};

}  // namespace weft_torch

namespace py = pybind11;

PYBIND11_MODULE(_weft_torch, m) {
  m.doc() = "weft's torch.distributed backend (use through weft.torch)";
  py::class_<weft_torch::ProcessGroupWeft, c10d::ProcessGroup, c10::intrusive_ptr<weft_torch::ProcessGroupWeft>>(
      m, "ProcessGroupWeft")
      .def(py::init([](const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                       std::chrono::milliseconds timeout, std::string net, std::string algo, std::string site,
                       std::string topo_file, std::string codec, int log_level, long long inline_bytes) {
             weft_torch::Config c{net,      algo,  site, topo_file, codec, log_level < 0 ? WEFT_CONFIG_UNDEF_INT : log_level,
                                  inline_bytes};
             return c10::make_intrusive<weft_torch::ProcessGroupWeft>(store, rank, size, timeout, c);
           }),
           py::arg("store"), py::arg("rank"), py::arg("size"), py::arg("timeout"), py::arg("net") = "",
           py::arg("algo") = "", py::arg("site") = "", py::arg("topo_file") = "", py::arg("codec") = "",
           py::arg("log_level") = -1, py::arg("inline_bytes") = 0)
      .def_property_readonly("comm_handle", &weft_torch::ProcessGroupWeft::handle,
                             "the weftComm_t as an int (0 after abort)")
      .def("abort", &weft_torch::ProcessGroupWeft::abort, py::call_guard<py::gil_scoped_release>(),
           "weftCommAbort: fails pending and later operations at once");
}
