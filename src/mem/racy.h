/* Reads of guest RAM that race with writers by design, and are checked
 * again before anything relies on them: live migration's pre-copy (the
 * dirty log sends a page written meanwhile again) and page sharing's scan
 * (a candidate is compared again with the VM paused). A device's file read
 * lands in guest RAM as the kernel's write, not an atomic one, so a
 * ThreadSanitizer build is told to look away from these reads. */
#ifndef VMON_MEM_RACY_H
#define VMON_MEM_RACY_H
#if defined(__SANITIZE_THREAD__)
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define RACY_READS_BEGIN() __tsan_ignore_thread_begin()
#define RACY_READS_END()   __tsan_ignore_thread_end()
#else
#define RACY_READS_BEGIN() ((void)0)
#define RACY_READS_END()   ((void)0)
#endif
#endif
