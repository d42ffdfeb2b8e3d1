#ifndef OA2_EXPLAIN_H
#define OA2_EXPLAIN_H
#endif
