/*
 * A fixed pool of threads that run agg_update_verify. Jobs queue in FIFO
 * order under one mutex; a finished job moves to the done list and one byte
 * goes down a non-blocking pipe so the event loop's poll wakes up.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "verify_pool.h"

#define MAX_THREADS 16

struct agg_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;
    agg_job_t *head, *tail, *done;
    int quit;
    int pipe_fd[2];
    unsigned n_threads;
    pthread_t threads[MAX_THREADS];
};

static void *worker(void *arg)
{
    agg_pool_t *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->head && !pool->quit) {
            pthread_cond_wait(&pool->work, &pool->lock);
        }
        if (pool->quit) {
            break;
        }
        agg_job_t *job = pool->head;
        pool->head = job->next;
        pool->tail = pool->head ? pool->tail : NULL;
        pthread_mutex_unlock(&pool->lock);
        job->verify_err = agg_update_verify(&job->pending);
        pthread_mutex_lock(&pool->lock);
        const int was_empty = !pool->done;
        job->next = pool->done;
        pool->done = job;
        if (was_empty) { /* one wake-up per batch; a full pipe already means "look" */
            const char byte = 1;
            (void)!write(pool->pipe_fd[1], &byte, 1);
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

agg_pool_t *agg_pool_start(unsigned threads)
{
    agg_pool_t *pool = calloc(1, sizeof(*pool));
    if (!pool || threads == 0 || threads > MAX_THREADS || pipe(pool->pipe_fd)) {
        free(pool);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(pool->pipe_fd[i], F_SETFL, O_NONBLOCK);
        fcntl(pool->pipe_fd[i], F_SETFD, FD_CLOEXEC);
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);
    for (; pool->n_threads < threads; pool->n_threads++) {
        if (pthread_create(&pool->threads[pool->n_threads], NULL, worker, pool)) {
            agg_pool_stop(pool);
            return NULL;
        }
    }
    return pool;
}

static void free_list(agg_job_t *job)
{
    while (job) {
        agg_job_t *next = job->next;
        free(job->body);
        free(job);
        job = next;
    }
}

void agg_pool_stop(agg_pool_t *pool)
{
    if (!pool) {
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->quit = 1;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->n_threads; i++) {
        pthread_join(pool->threads[i], NULL);
    }
    free_list(pool->head); /* never answered: the devices will retry */
    free_list(pool->done);
    close(pool->pipe_fd[0]);
    close(pool->pipe_fd[1]);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

int agg_pool_fd(const agg_pool_t *pool)
{
    return pool->pipe_fd[0];
}

void agg_pool_submit(agg_pool_t *pool, agg_job_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&pool->lock);
    if (pool->tail) {
        pool->tail->next = job;
    } else {
        pool->head = job;
    }
    pool->tail = job;
    pthread_cond_signal(&pool->work);
    pthread_mutex_unlock(&pool->lock);
}

agg_job_t *agg_pool_take_done(agg_pool_t *pool)
{
    char drain[64];
    while (read(pool->pipe_fd[0], drain, sizeof(drain)) > 0) {
    }
    pthread_mutex_lock(&pool->lock);
    agg_job_t *done = pool->done;
    pool->done = NULL;
    pthread_mutex_unlock(&pool->lock);
    return done;
}
