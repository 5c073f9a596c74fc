// server/threads.h: what a server thread says about itself to the OS (Linux: per thread).
#pragma once

namespace strata::server {

// Names the calling thread (truncated to 15 characters): top -H, perf and gdb show it.
void name_this_thread(const char* name);
// Adds `delta` (> 0: lower priority) to the calling thread's nice value, up to 19. Failure (a
// sandbox forbidding it) only costs priority, and is ignored.
void renice_this_thread(int delta);

}  // namespace strata::server
