/**
 * Choice providers: how a generated settings form offers a list of things
 * the server knows (datasources, ...) for a property whose schema only says
 * "a string". The schema names the list with the extension keyword
 * `x-choices` (`"x-choices": "datasources"`, set in
 * `analytics_ext/schemas/settings.py`); the page that shows the form supplies
 * one provider per name. The form stays generated from the schema: a new
 * property that names a known list gets a select with no frontend change, and
 * a list that is unknown or fails to load leaves the plain field in place.
 */
import { errorMessage } from '../../api/request';
import type { IJSONSchema, JSONValue } from '../../api/account';

/** The extension keyword naming a property's choice list. */
export const CHOICES_KEYWORD = 'x-choices';

/** One entry of a choice list: the value stored, the text shown. */
export interface IChoice {
  value: JSONValue;
  label: string;
}

/** Providers by the name a schema gives in `x-choices`. */
export type ChoiceProviders = Readonly<
  Record<string, () => Promise<IChoice[]>>
>;

/** A provider's answer: its choices, or why there are none. */
export type ChoiceList = { choices: IChoice[] } | { problem: string };

/** What `loadChoices` found, by list name; a name without a provider is absent. */
export type LoadedChoices = ReadonlyMap<string, ChoiceList>;

/** The list a (resolved) property schema names, if any. */
export function choicesName(schema: IJSONSchema): string | undefined {
  const name = (schema as IJSONSchema & { [CHOICES_KEYWORD]?: unknown })[
    CHOICES_KEYWORD
  ];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** Every list name used anywhere in `schema` (properties, `$defs`, branches). */
export function choiceNames(
  schema: unknown,
  names = new Set<string>()
): Set<string> {
  if (Array.isArray(schema)) {
    schema.forEach(item => choiceNames(item, names));
  } else if (typeof schema === 'object' && schema !== null) {
    for (const [key, value] of Object.entries(schema)) {
      if (key === CHOICES_KEYWORD && typeof value === 'string') {
        names.add(value);
      } else {
        choiceNames(value, names);
      }
    }
  }
  return names;
}

/**
 * Ask, in parallel, each provider that `schema` names for its list. A failing
 * provider yields its message (the form falls back to the plain field and
 * says why); a name with no provider is left out (plain field, silently).
 */
export async function loadChoices(
  schema: IJSONSchema,
  providers: ChoiceProviders
): Promise<LoadedChoices> {
  const names = [...choiceNames(schema)].filter(name =>
    Object.prototype.hasOwnProperty.call(providers, name)
  );
  const lists = await Promise.all(
    names.map(async (name): Promise<ChoiceList> => {
      try {
        return { choices: await providers[name]() };
      } catch (error) {
        return { problem: errorMessage(error) };
      }
    })
  );
  return new Map(names.map((name, index) => [name, lists[index]]));
}
