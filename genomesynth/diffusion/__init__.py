"""The diffusion engine: schedules, the masked loss and samplers. It knows tensors, a mask and a
condition; nothing of genes, files or what a label means."""
