# railcc-sim verifies every all_reduce schedule symbolically on modelled jobs (a sample of rank
# counts; the full 2..4096 sweep is a manual run, see README), and its timing mode runs.
add_test(NAME sim_verify_small
         COMMAND railcc-sim --verify -n 1,2,3,4,5,6,7,8,9,10,16,24,31,33,64 --per-host 4)
add_test(NAME sim_verify_large
         COMMAND railcc-sim --verify -n 1000,1024 --per-host 8 --algos tree,hd,rd,hier)
add_test(NAME sim_timing_smoke COMMAND railcc-sim -n 4,16 --per-host 4 -b 8 -e 16M -f 16)
set_tests_properties(sim_verify_small sim_verify_large sim_timing_smoke PROPERTIES LABELS "sim")
