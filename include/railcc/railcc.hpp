// Umbrella header of the railcc C++ API.
#pragma once

#include "railcc/communicator.hpp"
#include "railcc/config.hpp"
#include "railcc/cuda_stream.hpp"
#include "railcc/data_type.hpp"
#include "railcc/memory.hpp"
#include "railcc/reduce_op.hpp"
#include "railcc/status.hpp"
#include "railcc/store.hpp"
#include "railcc/version.hpp"
#include "railcc/work.hpp"
