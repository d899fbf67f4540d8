package main

const envOperator = "KVOPS_SIMPD_TEST_OPERATOR"

func operatorMain(string) error { return nil }
