/* Forked children that answer through a pipe, not through their exit status: under valgrind (make
 * check-valgrind) the status is valgrind's own, 1 when the child's leak check counts as lost what only the
 * parent's other threads pointed to at the fork. */
#ifndef UVA_TESTS_FORKED_H
#define UVA_TESTS_FORKED_H

#include <check.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  pid_t pid;
  int answer[2];
} forked_t;

/* Forks: 1 in the child, 0 in the parent. */
static inline int forked_start(forked_t *f) {
  ck_assert_int_eq(pipe(f->answer), 0);
  f->pid = fork();
  ck_assert_int_ge(f->pid, 0);
  return f->pid == 0;
}

/* In the child: sends its answer and ends it. */
static inline void forked_end(forked_t *f, int answer) {
  _exit(write(f->answer[1], &answer, sizeof(answer)) == (ssize_t)sizeof(answer) ? 0 : 1);
}

/* In the parent: the child's answer, once the child ended. */
static inline int forked_wait(forked_t *f) {
  int answer = -1;
  int status;

  close(f->answer[1]);
  ck_assert_int_eq(read(f->answer[0], &answer, sizeof(answer)), sizeof(answer));
  close(f->answer[0]);
  ck_assert_int_eq(waitpid(f->pid, &status, 0), f->pid);
  ck_assert(WIFEXITED(status));
  return answer;
}

#endif /* UVA_TESTS_FORKED_H */
