/* The sandbox's file-system confinement (Landlock, vmm/landlock.c), in a
 * child process so that this one stays free: a thread started before the
 * sandbox, the thread that applies it and a thread started after can all
 * open what the VM was given (a device's directory, a file named by path,
 * a directory to make files in, its own /proc entries) and nothing else,
 * while a descriptor opened before stays usable. Where the kernel has no
 * Landlock, the sandbox must say so instead of failing. */
#include "check.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static struct check_ctx c;
static char base[64];

/* 0 if path opens with flags, else its errno. */
static int try_open(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd < 0) return errno;
    close(fd);
    return 0;
}

static void path_of(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", base, rel);
}

/* What every thread may and may not do once the sandbox is in force. */
static void check_confined(const char *who)
{
    char p[128];
    path_of(p, sizeof(p), "given/a");
    CHECK(&c, try_open(p, O_RDONLY) == 0, "%s: a file in a device's directory", who);
    path_of(p, sizeof(p), "given/new");
    CHECK(&c, try_open(p, O_WRONLY | O_CREAT) == EACCES, "%s: a read-only directory written", who);
    path_of(p, sizeof(p), "kernel");
    CHECK(&c, try_open(p, O_RDONLY) == 0, "%s: a file given to read", who);
    CHECK(&c, try_open(p, O_WRONLY) == EACCES, "%s: a file given to read, written", who);
    path_of(p, sizeof(p), "other/b");
    CHECK(&c, try_open(p, O_RDONLY) == EACCES, "%s: a file nobody gave it", who);
    CHECK(&c, try_open("/etc/passwd", O_RDONLY) == EACCES, "%s: /etc/passwd", who);
    path_of(p, sizeof(p), "snaps/s.tmp");
    CHECK(&c, try_open(p, O_WRONLY | O_CREAT | O_TRUNC) == 0, "%s: a file made in its directory",
          who);
    CHECK(&c, try_open(p, O_RDONLY) == EACCES, "%s: that file read back", who);
    path_of(p, sizeof(p), "snaps/d");
    CHECK(&c, mkdir(p, 0700) < 0 && errno == EACCES, "%s: a directory made there", who);
    CHECK(&c, try_open("/proc/self/status", O_RDONLY) == 0, "%s: its /proc entries", who);
    CHECK(&c, try_open("/proc/thread-self/schedstat", O_RDONLY) == 0, "%s: its thread's", who);
}

static int go[2];

static void *early_thread(void *arg)
{
    (void)arg;
    char b;
    while (read(go[0], &b, 1) < 0 && errno == EINTR) {
    }
    check_confined("a thread started before the sandbox");
    return NULL;
}

static void *late_thread(void *arg)
{
    (void)arg;
    check_confined("a thread started after it");
    return NULL;
}

static void make_files(void)
{
    const char *dirs[] = {"given", "other", "snaps"};
    const char *files[] = {"given/a", "other/b", "kernel"};
    char p[128];
    for (unsigned i = 0; i < 3; i++) {
        path_of(p, sizeof(p), dirs[i]);
        mkdir(p, 0700);
    }
    for (unsigned i = 0; i < 3; i++) {
        path_of(p, sizeof(p), files[i]);
        close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    }
}

/* The child: checks counted in c, reported through the pipe. */
static void child(int out)
{
    make_files();
    char err[256], given[128], kernel[128], snaps[128], other[128];
    path_of(given, sizeof(given), "given");
    path_of(kernel, sizeof(kernel), "kernel");
    path_of(snaps, sizeof(snaps), "snaps");
    path_of(other, sizeof(other), "other/b");
    struct vm_config cfg = {.ram_size = 1 << 20, .ncpus = 1};
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    int dir = open(given, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int held = open(other, O_RDONLY | O_CLOEXEC);
    pthread_t early, late;
    CHECK(&c, vm && dir >= 0 && held >= 0 && pipe(go) == 0, "setup: %s", vm ? "" : err);
    if (!vm || dir < 0 || held < 0) goto out;
    CHECK(&c, vm_use_dir(vm, dir, VM_DIR_READ, err, sizeof(err)) == 0, "vm_use_dir: %s", err);
    pthread_create(&early, NULL, early_thread, NULL);
    struct sandbox_path paths[] = {{kernel, SANDBOX_READ}, {snaps, SANDBOX_FILES_IN}};
    int r = sandbox_landlock(vm, paths, 2, err, sizeof(err));
    CHECK(&c, r == 0, "sandbox_landlock: %s", err);
    if (!vm->isolation.landlock_abi) {
        /* Only where the kernel has none (main checked that it has). */
        CHECK(&c, 0, "no Landlock although the kernel has it: %s", vm->isolation.detail);
    } else {
        check_confined("the thread that applied it");
        char b = 1;
        CHECK(&c, write(go[1], &b, 1) == 1, "wake the early thread");
        pthread_join(early, NULL);
        pthread_create(&late, NULL, late_thread, NULL);
        pthread_join(late, NULL);
        CHECK(&c, pread(held, &b, 1, 0) == 0, "a descriptor held from before still reads");
    }
out:
    if (write(out, &c, sizeof(c)) != (ssize_t)sizeof(c)) _exit(2);
    _exit(0);
}

int main(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* VERSION */);
    if (abi < 1) {
        /* The sandbox must say why, and not fail. */
        struct vm_config cfg = {.ram_size = 1 << 20, .ncpus = 1};
        char err[256];
        struct vm *vm = vm_create(&cfg, err, sizeof(err));
        CHECK(&c, vm && sandbox_landlock(vm, NULL, 0, err, sizeof(err)) == 0, "%s", err);
        if (vm) CHECK(&c, strstr(vm->isolation.detail, "no Landlock") != NULL, "detail");
        printf("SKIP the confinement itself: this kernel has no Landlock (%s)\n", strerror(errno));
        vm_destroy(vm);
        return check_report(&c, "test_sandbox");
    }
    snprintf(base, sizeof(base), "/tmp/vmon-sandbox-XXXXXX");
    int p[2];
    CHECK(&c, mkdtemp(base) && pipe(p) == 0, "mkdtemp/pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) child(p[1]);
    struct check_ctx got = {0, 0};
    int st = 0;
    ssize_t n = read(p[0], &got, sizeof(got));
    waitpid(pid, &st, 0);
    CHECK(&c, n == (ssize_t)sizeof(got) && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the child ended with status 0x%x", st);
    c.passed += got.passed;
    c.failed += got.failed;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    CHECK(&c, system(cmd) == 0, "removing %s", base);
    return check_report(&c, "test_sandbox");
}
