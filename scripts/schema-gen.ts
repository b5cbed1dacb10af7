// npm run gen (with the proto's types): writes packaging/inventory.schema.json from the inventory's
// zod schema (coordinator/inventory-schema.ts), so that editors check an inventory as it is typed.
import { writeFileSync } from 'node:fs';
import { inventoryJsonSchema } from '../coordinator/inventory-schema.ts';

const path = new URL('../packaging/inventory.schema.json', import.meta.url);
writeFileSync(path, `${JSON.stringify(inventoryJsonSchema(), null, 2)}\n`);
console.log(`wrote ${path.pathname}`);
