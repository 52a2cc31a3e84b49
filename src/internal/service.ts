/**
 * What breakers and bulkheads share as services: a class-style service key
 * with a static `layer`, and a per-call lookup of the instance a key names
 * in the running fiber's context.
 *
 * @internal
 */
import type { Layer } from "effect"
import { Context, Effect } from "effect"

// `Effect.isEffect` and `Context.isKey` go through a `dual` helper; these are
// the same tests without the argument juggling, for the per-call dispatch.
const EffectTypeId = Effect.TypeId
const ServiceTypeId = Context.ServiceTypeId

/** Whether `u` is an object (or function) carrying the type id `id`. @internal */
export const hasTypeId = (u: unknown, id: string): boolean =>
  (typeof u === "object" || typeof u === "function") && u !== null && id in u

/** @internal */
export const isEffectValue = (u: unknown): u is Effect.Effect<unknown, unknown, unknown> => hasTypeId(u, EffectTypeId)

/** @internal */
export const isServiceKey = (u: unknown): u is Context.Key<unknown, unknown> => hasTypeId(u, ServiceTypeId)

/**
 * A service key declared with `Service<Self>()(name)`, whose static
 * `layer(options)` provides it. Its key is `Namespace/name`, so a breaker and
 * a bulkhead declared with the same name are different services.
 *
 * @internal
 */
export interface ServiceClassOf<Self, Key extends string, Shape, Options, Error>
  extends Context.ServiceClass<Self, Key, Shape>
{
  readonly layer: (options?: Options) => Layer.Layer<Self, Error>
}

/**
 * Builds a `Service<Self>()(name)` declaration for instances of `Shape`,
 * keyed `namespace/name`. The instance is named `name` unless the options
 * name it.
 *
 * @internal
 */
export const serviceClass =
  <const Namespace extends string, Shape, Options extends { readonly name?: string | undefined }, Error>(
    namespace: Namespace,
    layerAs: <I>(tag: Context.Key<I, Shape>, options?: Options) => Layer.Layer<I, Error>
  ) =>
  <Self>() =>
  <const Name extends string>(name: Name): ServiceClassOf<Self, `${Namespace}/${Name}`, Shape, Options, Error> => {
    const Tag = Context.Service<Self, Shape>()(`${namespace}/${name}` as `${Namespace}/${Name}`)
    return class extends Tag {
      static readonly layer = (options?: Options): Layer.Layer<Self, Error> =>
        layerAs(Tag, options?.name === undefined ? { ...options, name } as unknown as Options : options)
    }
  }

/**
 * Finds the instance a key names in a context. A context is immutable, so
 * the instance it holds under a key is remembered by identity: calls in a
 * loop skip the lookup.
 *
 * @internal
 */
export class InstanceLookup<Shape> {
  private lastContext: Context.Context<never> | undefined = undefined
  private lastKey: Context.Key<unknown, Shape> | undefined = undefined
  private lastInstance: Shape | undefined = undefined

  get(context: Context.Context<never>, key: Context.Key<unknown, Shape>): Shape {
    if (context === this.lastContext && key === this.lastKey) return this.lastInstance!
    const instance = Context.getUnsafe(context, key)
    this.lastContext = context
    this.lastKey = key
    this.lastInstance = instance
    return instance
  }
}
