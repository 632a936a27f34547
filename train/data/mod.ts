/**
 * The CPU side of the data pipeline: datasets of u8 HWC RGB images (synthetic, CIFAR-10/100,
 * IDX/MNIST, image folders, prepared shards), a registry of data formats that recognises a
 * data folder (`detectDataFormat`), the paper's augmentation to float32 NCHW batches, and a
 * seeded, resumable, prefetching loader.
 *
 * Importing this module does not load the image decoders (npm `jpeg-js`, `fast-png`): they
 * are imported dynamically by the first PNG/JPEG decode.
 *
 * @example
 * ```ts
 * import { DataLoader, syntheticSplits } from "./mod.ts";
 * const { train } = syntheticSplits({ trainSize: 256, valSize: 64, size: 32, seed: 1 });
 * const loader = new DataLoader(train, { batchSize: 64, seed: 1, augment: { crop: 28, flip: true } });
 * const { images, labels, batchShape } = await loader.next(); // [64, 3, 28, 28]
 * loader.close();
 * ```
 *
 * @module
 */

export type { Dataset, Sample } from "./dataset.ts";
export { DatasetBase, type DatasetShape } from "./_dataset_base.ts";
export {
  type DataFormat,
  DataFormatError,
  type DataSource,
  type DataSplits,
  type DataSubset,
} from "./data_format.ts";
export { DATA_FORMATS, dataFormat, detectDataFormat, loadDataSplits } from "./formats.ts";
export { ArrayDataset, type ArrayDatasetOptions } from "./array_dataset.ts";
export { Rng, type RngState } from "./rng.ts";
export {
  SYNTHETIC_CLASS_NAMES,
  SyntheticDataset,
  syntheticFormat,
  type SyntheticOptions,
  type SyntheticSplitOptions,
  syntheticSplits,
} from "./synthetic.ts";
export {
  CIFAR10_CLASS_NAMES,
  CIFAR10_RECORD_BYTES,
  type Cifar10Batch,
  cifar10Format,
  type Cifar10Options,
  loadCifar10,
  parseCifar10,
} from "./cifar10.ts";
export {
  CIFAR100_CLASS_NAMES,
  CIFAR100_RECORD_BYTES,
  cifar100Format,
  loadCifar100,
} from "./cifar100.ts";
export { IDX_DTYPES, type IdxArray, idxFormat, type IdxOptions, loadIdx, parseIdx } from "./idx.ts";
export {
  type AlphaMode,
  decodeImage,
  type DecodeOptions,
  IMAGE_EXTENSIONS,
  type ImageFile,
  ImageFolder,
  ImageFolderDataset,
  type ImageFolderOptions,
  loadImageFolder,
  type LoadImageFolderOptions,
  type RgbImage,
} from "./image_folder.ts";
export {
  prepareImageFolder,
  type PrepareOptions,
  type RgbPca,
  type ShardManifest,
} from "./prepare.ts";
export { ShardDataset, type ShardDatasetOptions, shardFormat } from "./shard_dataset.ts";
export {
  augmentBatch,
  augmentedCrops,
  type AugmentOptions,
  centerCrop,
  centerCrops,
  type CropBatch,
  type ImageBatch,
  type PcaNoiseOptions,
  tenCrop,
  tenCrops,
} from "./augment.ts";
export {
  DataLoader,
  type DataLoaderOptions,
  type DataLoaderState,
  type LoaderBatch,
} from "./loader.ts";
export { type ClassDifference, compareClasses, requireSameClasses } from "./classes.ts";
export { balancedIndices, balancedSubset, labelOf, SubsetDataset } from "./subset.ts";
export {
  dataDifferences,
  type DataFingerprint,
  fingerprint,
  type SplitFingerprint,
} from "./fingerprint.ts";
