// The ImageNet-1k class names, for the official 1000-class pMF models: convert-official writes
// placeholders (imagenet-0 ... imagenet-999) unless given --class-names, and a converted model
// should still say "207: golden retriever". The list is the synset words in class-index order as
// @tensorflow-models/mobilenet ships them (Apache-2.0, a devDependency bundled at build time);
// each class is named by its first synonym, and the two names that repeat are told apart.
import { IMAGENET_CLASSES } from '@tensorflow-models/mobilenet/dist/imagenet_classes';

const DISAMBIGUATED: Readonly<Record<number, string>> = { 134: 'crane (bird)', 517: 'crane (machine)', 639: 'tank suit' };

/** The 1000 ImageNet-1k class names, index i the name of class i. */
export const IMAGENET_CLASS_NAMES: readonly string[] = Array.from(
  { length: 1000 },
  (_, i) => DISAMBIGUATED[i] ?? (IMAGENET_CLASSES as Record<number, string>)[i].split(',')[0].trim(),
);

/** Whether `names` are convert-official's placeholders, imagenet-0 ... imagenet-999 (a model with other names, or none, keeps them). */
export function isImagenetPlaceholder(names: readonly string[]): boolean {
  return names.length === 1000 && names.every((n, i) => n === `imagenet-${i}`);
}
