"""VllmGpuPool: GPU node pools, vLLM, DCGM and KEDA; the vLLM plan and the hardware catalogs."""
