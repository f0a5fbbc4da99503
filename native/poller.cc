// Poller: libuv readiness (uv_poll) on a non-blocking fd. It only reports
// that an fd is readable or writable; the JS side then moves a whole batch
// with readBatch/recvBatch. The fd stays owned by the caller, who must
// close() the Poller before closing the fd.
#include <uv.h>

#include "errors.h"
#include "poller.h"

namespace tdn {
namespace {

class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Poller",
                       {InstanceMethod("start", &Poller::Start),
                        InstanceMethod("stop", &Poller::Stop),
                        InstanceMethod("close", &Poller::Close)});
  }

  // new Poller(fd, callback(status, events)); status is 0 or -errno.
  explicit Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
    Napi::Env env = info.Env();
    int32_t fd;
    if (!ArgInt(info, 0, &fd)) return;
    if (info.Length() < 2 || !info[1].IsFunction()) {
      ThrowArg(env, "new Poller(fd, callback): callback must be a function");
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      ThrowArg(env, "Poller: no event loop");
      return;
    }
    handle_ = new uv_poll_t;
    int rc = uv_poll_init(loop, handle_, fd);
    if (rc < 0) {
      delete handle_;
      handle_ = nullptr;
      ThrowErrno(env, -rc, "uv_poll_init");
      return;
    }
    handle_->data = this;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "tun-driver:poller");
  }

  ~Poller() override { CloseHandle(); }

 private:
  // start(events): 1 = readable, 2 = writable (UV_READABLE/UV_WRITABLE).
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int32_t events;
    if (!ArgInt(info, 0, &events)) return env.Undefined();
    if (!handle_) {
      ThrowArg(env, "Poller.start: poller is closed");
      return env.Undefined();
    }
    int rc = uv_poll_start(handle_, events, OnEvent);
    if (rc < 0) {
      ThrowErrno(env, -rc, "uv_poll_start");
      return env.Undefined();
    }
    // An active poller must not be collected while the loop can call it.
    if (!active_) Ref();
    active_ = true;
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopHandle();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseHandle();
    return info.Env().Undefined();
  }

  void StopHandle() {
    if (handle_) uv_poll_stop(handle_);
    if (active_) Unref();
    active_ = false;
  }

  void CloseHandle() {
    if (!handle_) return;
    StopHandle();
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
  }

  static void OnEvent(uv_poll_t* handle, int status, int events) {
    Poller* self = static_cast<Poller*>(handle->data);
    if (!self) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->callback_.MakeCallback(env.Global(),
                                 {Napi::Number::New(env, status), Napi::Number::New(env, events)},
                                 *self->context_);
    // A throwing handler becomes an uncaught exception, as in any Node
    // callback, instead of being silently swallowed here.
    if (env.IsExceptionPending()) {
      Napi::Error error = env.GetAndClearPendingException();
      napi_fatal_exception(env, error.Value());
    }
  }

  uv_poll_t* handle_ = nullptr;
  bool active_ = false;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace

void InitPoller(Napi::Env env, Napi::Object exports) {
  exports.Set("Poller", Poller::Define(env));
}

}  // namespace tdn
