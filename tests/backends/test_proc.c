/* Tests of backends/proc.c's sw__proc_signal: one signal sent is one signal received,
 * whether the child leads its own process group or has not reached setpgid yet. A worker
 * that took a SIGTERM, drained and put back the default disposition was killed by a second
 * copy of the same SIGTERM, and reported as "signal: terminated" instead of exit 0. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/proc_internal.h"

/* In the child: counts the queued instances of SIGRTMIN once SIGUSR1 says the parent is
 * done sending. Real-time signals queue, one instance a kill(), so a second send is seen
 * (a standard signal would merge with the first). */
static _Noreturn void count_signals(int ready_fd, int count_fd, bool new_group)
{
    if (new_group)
        setpgid(0, 0);
    char c = 'r';
    if (write(ready_fd, &c, 1) != 1)
        _exit(2);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    int sig;
    sigwait(&usr1, &sig);
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    struct timespec zero = {0, 0};
    unsigned char n = 0;
    while (sigtimedwait(&rt, NULL, &zero) == SIGRTMIN)
        n++;
    _exit(write(count_fd, &n, 1) == 1 ? 0 : 2);
}

/* How many SIGRTMIN the child got from one sw__proc_signal. */
static int signals_received(bool new_group)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGRTMIN);
    sigaddset(&block, SIGUSR1);
    /* Blocked before the fork, so the child's mask holds them from its first instruction. */
    cr_assert_eq(sigprocmask(SIG_BLOCK, &block, &old), 0);
    int ready[2], count[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(count), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0)
        count_signals(ready[1], count[1], new_group);
    sigprocmask(SIG_SETMASK, &old, NULL);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the child did not start");
    sw__proc_signal(pid, SIGRTMIN);
    kill(pid, SIGUSR1);
    unsigned char n = 0;
    cr_assert_eq(read(count[0], &n, 1), 1, "the child did not report");
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    for (int i = 0; i < 2; i++) {
        close(ready[i]);
        close(count[i]);
    }
    return n;
}

Test(be_proc, a_group_leader_gets_the_signal_once)
{
    cr_assert_eq(signals_received(true), 1);
}

Test(be_proc, a_child_before_setpgid_still_gets_it_once)
{
    cr_assert_eq(signals_received(false), 1);
}
