/* uvactor: Node.js worker_threads for C.
 *
 * Every actor is an OS thread that owns its own libuv loop; actors share nothing by accident and talk
 * through MessagePort pairs carrying msgpack messages. This is the one header a program includes.
 */
#ifndef UVACTOR_H
#define UVACTOR_H

#include "uvactor/actor.h"
#include "uvactor/call.h"
#include "uvactor/common.h"
#include "uvactor/msg.h"
#include "uvactor/port.h"
#include "uvactor/stats.h"
#include "uvactor/supervise.h"
#include "uvactor/tpool.h"

#endif /* UVACTOR_H */
