// The cost-policy inputs of two real models: pMF-B/16 (official layout) and the bundled Fashion-MNIST model's metadata.
export const B16 = {
  kind: 'image' as const, sampleShape: [3, 256, 256], patchSize: 16, defaultSampling: { steps: 1 },
  architecture: { name: 'pmfDiT', params: 118234240, depth: 16, hidden_size: 768, num_heads: 12, patch_size: 16, mlp_hidden: 2048,
    u_head_depth: 8, bottleneck_channels: 128, prefix_tokens: { class_tokens: 8, omega: 4, t_min: 2, t_max: 2, time: 4 }, image_tokens: 256 },
};
export const FASHION = {
  kind: 'image' as const, sampleShape: [1, 28, 28], patchSize: 7, defaultSampling: { steps: 1 },
  architecture: { name: 'pmfDiT', params: 3038769, depth: 6, hidden_size: 192, num_heads: 6, patch_size: 7, mlp_hidden: 512,
    u_head_depth: 2, bottleneck_channels: 64, prefix_tokens: { class_tokens: 4, omega: 1, t_min: 1, t_max: 1, time: 2 }, image_tokens: 16 },
};
