// The HubSpot sandbox's data model: contacts, property definitions, the changes the
// webhook dispatcher turns into events, and the store's typed error.

export type ChangeSource = 'CRM_UI' | 'INTEGRATION' | 'API' | 'IMPORT';

export interface StoredContact {
  id: string;
  /** Property values as HubSpot stores them (strings); absent = null. */
  props: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
  archivedAt: number | null;
  mergedInto: string | null;
  /** Every value each property held, oldest first (what `propertiesWithHistory` answers). */
  history: Record<string, PropertyVersion[]>;
}

/** One entry of a property's history, as HubSpot's `propertiesWithHistory` returns it. */
export interface PropertyVersion {
  value: string;
  timestamp: number;
  sourceType: ChangeSource;
}

export interface PropertyOption {
  label: string;
  value: string;
  displayOrder: number;
  hidden: boolean;
  description?: string;
}

export interface PropertyDef {
  name: string;
  label: string;
  type: 'string' | 'enumeration' | 'datetime' | 'date' | 'number' | 'bool' | 'phone_number';
  fieldType: string;
  groupName: string;
  description: string;
  options: PropertyOption[];
  readOnlyValue: boolean;
  hubspotDefined: boolean;
  /** A calculation property: HubSpot computes its value. */
  calculated?: boolean;
  createdAt: number;
  updatedAt: number;
}

/** A change the webhook dispatcher turns into events. */
export type StoreChange =
  | { type: 'creation'; objectId: string; occurredAt: number; source: ChangeSource; props: Record<string, string> }
  | { type: 'propertyChange'; objectId: string; occurredAt: number; source: ChangeSource; propertyName: string; propertyValue: string }
  | { type: 'deletion' | 'privacyDeletion' | 'restore'; objectId: string; occurredAt: number; source: ChangeSource }
  | {
      type: 'merge';
      objectId: string;
      occurredAt: number;
      source: ChangeSource;
      primaryObjectId: string;
      mergedObjectIds: string[];
      newObjectId: string;
      numberOfPropertiesMoved: number;
    };

export type StoreErrorCategory = 'VALIDATION_ERROR' | 'CONFLICT' | 'OBJECT_NOT_FOUND';

export class StoreError extends Error {
  constructor(
    readonly status: number,
    readonly category: StoreErrorCategory,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface PropertyProblem {
  isValid: false;
  message: string;
  error: string;
  name: string;
}
