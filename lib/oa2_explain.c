/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "oa2_explain.h"
